"""Every test in this folder needs PostgreSQL: mark them ``postgres`` (``-m "not postgres"``
deselects them). The fixtures themselves live in tests/fixtures/postgres.py."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.postgres)
