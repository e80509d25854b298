"""The Spark benchmark's input: ``user_event`` records with 5% planted errors, as JSON lines
and as Parquet, generated once by ``dataquarantine.demo.generator`` and cached in bench/.data.

Valid records are the generator's ``user_event`` ones (every version tag, and the warn-only
signups without email); bad ones are its ``user_event`` failure variants, one record in 20.
Each bad record's planted kind (parse_error, schema_violation, rule_violation) is kept beside
the data by its ``event_id`` (unique), read from the raw line; broken lines without one are
counted per kind. Parquet cannot hold an unparseable line nor a value of the wrong type, so
those variants are JSON-lines only (Parquet has fewer rows and about 2.5% bad ones).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BENCH_DIR / ".data"
#: One record in BAD_EVERY is bad (5%).
BAD_EVERY = 20
ROWS_PER_FILE = 1_000_000
EVENT_ID = re.compile(rb'"event_id": ?"([^"]+)"')
#: Variants that are not user_event failures under the user_event 1.1.0 contract.
NOT_USER_EVENT = {"referrer_on_v1"}
#: Variants Parquet cannot carry (not JSON, or a value of another type than the column's).
JSON_ONLY = {"user_id_as_number", "amount_as_string", "timestamp_epoch_millis"}

_PROPERTIES = pa.struct(
    [
        ("button", pa.string()),
        ("position", pa.int64()),
        ("search_query", pa.string()),
        ("results", pa.int64()),
        ("experiment", pa.string()),
        ("arm", pa.string()),
        ("campaign", pa.string()),
        ("medium", pa.string()),
        ("tab", pa.string()),
        ("filters", pa.list_(pa.string())),
        ("sort", pa.string()),
    ]
)
SCHEMA = pa.schema(
    [
        ("_schema", pa.string()),
        ("event_id", pa.string()),
        ("user_id", pa.string()),
        ("event_type", pa.string()),
        ("timestamp", pa.string()),
        ("session_id", pa.string()),
        ("page_url", pa.string()),
        ("product_id", pa.string()),
        ("amount", pa.float64()),
        ("currency", pa.string()),
        ("email", pa.string()),
        ("device", pa.struct([("type", pa.string()), ("os", pa.string())])),
        ("properties", _PROPERTIES),
        ("referrer", pa.string()),
        ("ip_address", pa.string()),
    ]
)


def event_key(line: bytes) -> str | None:
    """The ``event_id`` of a raw line, if it has one (broken lines too)."""
    found = EVENT_ID.search(line)
    return found.group(1).decode("utf-8", "replace") if found else None


@dataclass(frozen=True)
class Planted:
    """The planted errors: kind by event_id, and the count per kind of those without one."""

    keyed: dict[str, str]
    unkeyed: Counter[str]

    def misses(self, caught: list[str | None]) -> dict[str, Any]:
        """Per kind, the planted errors not among ``caught`` (the keys of quarantined rows),
        and the quarantined rows that were not planted."""
        keys = set(caught)
        missed: Counter[str] = Counter(k for key, k in self.keyed.items() if key not in keys)
        unkeyed_caught = sum(1 for c in caught if c is None)
        if unkeyed_caught < sum(self.unkeyed.values()):
            missed["parse_error (no event_id)"] += sum(self.unkeyed.values()) - unkeyed_caught
        extra = sum(1 for c in keys if c is not None and c not in self.keyed)
        return {"missed": dict(missed), "not_planted": extra}


@dataclass(frozen=True)
class BenchData:
    jsonl: Path
    parquet: Path
    meta: dict[str, Any]

    def planted(self, fmt: str) -> Planted:
        data = json.loads(_planted_path(self.path(fmt)).read_text())
        return Planted(data["keyed"], Counter(data["unkeyed"]))

    def path(self, fmt: str) -> Path:
        return self.jsonl if fmt == "jsonl" else self.parquet


def _records(n: int, seed: int) -> Iterator[tuple[bytes, str, str]]:
    """``(line, expected, variant)``: user_event records, one in BAD_EVERY bad."""
    from dataquarantine.demo.generator import generate

    def good() -> Iterator[tuple[bytes, str, str]]:
        for r in generate(10**12, bad_ratio=0.0, seed=seed):
            if r.variant.startswith("user_event") or r.variant == "warn_signup_without_email":
                yield r.raw, r.expected, r.variant

    def bad() -> Iterator[tuple[bytes, str, str]]:
        for r in generate(10**12, bad_ratio=1.0, seed=seed + 1):
            if r.expected in ("parse_error", "schema_violation", "rule_violation") and not (
                r.variant.startswith("page_view") or r.variant in NOT_USER_EVENT
            ):
                yield r.raw, r.expected, r.variant

    goods, bads = good(), bad()
    for i in range(n):
        yield next(bads) if i % BAD_EVERY == BAD_EVERY // 2 else next(goods)


def _parquet_row(line: bytes) -> dict[str, Any]:
    row: dict[str, Any] = orjson.loads(line)
    if isinstance(row.get("amount"), int):
        row["amount"] = float(row["amount"])
    return row


def _planted_path(path: Path) -> Path:
    return path.with_name(path.name + ".planted.json")


def _plant(planted: Planted, key: str | None, kind: str) -> None:
    if key is None:
        planted.unkeyed[kind] += 1
    else:
        planted.keyed[key] = kind


def ensure_data(records: int, seed: int, regen: bool) -> BenchData:
    """The cached data for (records, seed, generator source); generated when missing."""
    from dataquarantine.demo import generator

    digest = hashlib.sha256(
        Path(generator.__file__).read_bytes() + Path(__file__).read_bytes()
    ).hexdigest()[:12]
    stem = DATA_DIR / f"spark-events-{records}-s{seed}-{digest}"
    data = BenchData(stem.with_suffix(".jsonl"), stem.with_suffix(".parquet"), {})
    meta_path = stem.with_suffix(".meta.json")
    if not regen and meta_path.exists():
        return BenchData(data.jsonl, data.parquet, json.loads(meta_path.read_text()))
    for stale in DATA_DIR.glob("spark-events-*"):
        # other generator versions are never reused; other sizes of this one are kept
        current = stale.name.split(".")[0].endswith(f"-{digest}")
        if current and not stale.name.startswith(f"{stem.name}."):
            continue
        if stale.is_dir():
            for f in stale.iterdir():
                f.unlink()
            stale.rmdir()
        else:
            stale.unlink()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    data.parquet.mkdir()
    print(f"generating {records:,} user_event records (seed {seed}) for the Spark bench")
    start = time.perf_counter()
    planted_lines = Planted({}, Counter())
    planted_rows = Planted({}, Counter())
    kinds: dict[str, Counter[str]] = {"jsonl": Counter(), "parquet": Counter()}
    rows: list[dict[str, Any]] = []
    files = 0

    def flush() -> None:
        nonlocal rows, files
        if rows:
            table = pa.Table.from_pylist(rows, schema=SCHEMA)
            pq.write_table(table, data.parquet / f"part-{files:04d}.parquet", row_group_size=131072)
            files += 1
            rows = []

    with data.jsonl.open("wb") as out:
        for line, expected, variant in _records(records, seed):
            key = event_key(line)
            if expected != "valid":
                _plant(planted_lines, key, expected)
                kinds["jsonl"][expected] += 1
            out.write(line + b"\n")
            if expected == "parse_error" or variant in JSON_ONLY:
                continue
            if expected != "valid":
                _plant(planted_rows, key, expected)
                kinds["parquet"][expected] += 1
            rows.append(_parquet_row(line))
            if len(rows) >= ROWS_PER_FILE:
                flush()
    flush()
    parquet_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in data.parquet.iterdir())
    for path, planted in ((data.jsonl, planted_lines), (data.parquet, planted_rows)):
        content = {"keyed": planted.keyed, "unkeyed": dict(planted.unkeyed)}
        _planted_path(path).write_text(json.dumps(content))
    meta = {
        "records": {"jsonl": records, "parquet": parquet_rows},
        "planted": {k: dict(v) for k, v in kinds.items()},
        "bytes": {
            "jsonl": data.jsonl.stat().st_size,
            "parquet": sum(f.stat().st_size for f in data.parquet.iterdir()),
        },
        "generation_seconds": round(time.perf_counter() - start, 1),
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return BenchData(data.jsonl, data.parquet, meta)
