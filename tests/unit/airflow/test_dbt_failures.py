"""Which dbt tests found rows, read from dbt's run_results.json and manifest.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataquarantine.airflow.dbt_failures import FailedTest, failed_tests
from dataquarantine.errors import ConfigError


def _target(tmp_path: Path) -> Path:
    results = {
        "results": [
            {
                "unique_id": "test.gold.unique_fct_id.abc",
                "status": "fail",
                "failures": 2,
                "relation_name": '"db"."gold_dbt_test__audit"."unique_fct_id"',
                "message": "Got 2 results",
            },
            {
                "unique_id": "test.gold.inactive_agents",
                "status": "warn",
                "failures": 5,
                "relation_name": None,
                "message": "Got 5 results",
            },
            {"unique_id": "test.gold.not_null_x", "status": "pass", "failures": 0},
            {"unique_id": "model.gold.fct", "status": "success"},
        ]
    }
    manifest = {
        "nodes": {
            "test.gold.unique_fct_id.abc": {
                "name": "unique_fct_id",
                "test_metadata": {"name": "unique", "kwargs": {"column_name": "id"}},
                "refs": [{"name": "fct"}],
            },
            "test.gold.inactive_agents": {
                "name": "inactive_agents",
                "refs": [{"name": "fct"}],
                "relation_name": '"db"."gold_dbt_test__audit"."inactive_agents"',
            },
        }
    }
    (tmp_path / "run_results.json").write_text(json.dumps(results))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_failed_and_warning_tests_with_their_stored_tables(tmp_path: Path) -> None:
    assert failed_tests(_target(tmp_path)) == [
        FailedTest(
            name="unique_fct_id",
            kind="unique",
            model="fct",
            column="id",
            failures=2,
            relation='"db"."gold_dbt_test__audit"."unique_fct_id"',
            message="Got 2 results",
        ),
        FailedTest(
            name="inactive_agents",
            kind="singular",
            model="fct",
            column=None,
            failures=5,
            relation='"db"."gold_dbt_test__audit"."inactive_agents"',
            message="Got 5 results",
        ),
    ]


def test_a_missing_target_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run_results\.json"):
        failed_tests(tmp_path)
