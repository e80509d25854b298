"""DataQuarantine benchmark: the engine and the CLI against same-run baselines.

Generates (once, cached under bench/.data/) a JSONL file of sample events with ~5% bad
records, then measures, each in its own subprocess so that peak RSS is per measurement:

  floor   orjson.loads of every line: the parse-only floor
  seed    the seed design: json.loads + jsonschema Draft7Validator(schema).iter_errors,
          all errors collected, no format checker (the seed used none), no business rules
          (the seed never evaluated its rules); records routed by ``_schema``. Run on the
          first --seed-sample lines and extrapolated.
  engine  dataquarantine.Router(ContractRegistry).validate_batch over every line, as the CLI
          runs it (keep_values=False: valid records' decoded values are not retained)
  engine_kept  the same, keeping every decoded value (the API default), for comparison
  cli     ``dataquarantine validate FILE ... --json --workers 1`` end to end (SQLite + local
          payloads)
  cli_workers  the same with ``--workers 2``: the file cut into ranges, two processes
  handrolled, pydantic, msgspec, pandera   the peers of bench/peers.py (schema only, routed
          by ``_schema``); each is skipped with a note when its library is not installed

Every validator also counts what it missed: the planted bad records (per kind) it let through,
and the trap records of bench/traps.py it accepted.

Usage: python bench/run.py [--records N] [--seed-sample N] [--only NAME] [--skip NAME ...]
Results: a table on stdout and bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seed_design import seed_validators

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / ".data"
RESULTS_DIR = BENCH_DIR / "results"
PEER_NAMES = ("handrolled", "pydantic", "msgspec", "pandera", "gx")
MEASUREMENTS = ("floor", "seed", "engine", "engine_kept", "cli", "cli_workers", *PEER_NAMES)
LABELS = {
    "floor": "parse floor (orjson.loads)",
    "seed": "seed design (json + jsonschema Draft7)",
    "engine": "engine (Router.validate_batch)",
    "engine_kept": "engine, decoded values kept",
    "cli": "CLI end to end (dataquarantine validate)",
    "cli_workers": "CLI end to end, --workers 2",
    "handrolled": "hand-rolled orjson + jsonschema-rs",
    "pydantic": "pydantic v2 strict",
    "msgspec": "msgspec Structs (first error only)",
    "pandera": "pandera (polars)",
    "gx": "Great Expectations",
}
NOT_AVAILABLE = "n/a (engine not available)"


# -- shared helpers -----------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    On Linux this is VmHWM, which starts afresh at exec: ``ru_maxrss`` would carry over the
    peak of the (v)forked parent that started this process."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _maxrss_mb(resource.RUSAGE_SELF)


def _maxrss_mb(who: int) -> float:
    peak = resource.getrusage(who).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def read_batches(path: Path, size: int, limit: int | None = None) -> Iterator[list[bytes]]:
    """The lines of ``path`` without their terminator, ``size`` at a time (streaming)."""
    batch: list[bytes] = []
    seen = 0
    with path.open("rb", buffering=4 << 20) as f:
        for line in f:
            if limit is not None and seen >= limit:
                break
            seen += 1
            batch.append(line[:-1] if line.endswith(b"\n") else line)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


class Stopwatch:
    """Wall and CPU seconds of a block (CPU: this process, or its waited-for children)."""

    def __init__(self, children: bool = False) -> None:
        self.children = children
        self.wall = self.cpu = 0.0

    def _cpu(self) -> float:
        if not self.children:
            return time.process_time()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self) -> Stopwatch:
        self.wall, self.cpu = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = self._cpu() - self.cpu


def row(name: str, n: int, watch: Stopwatch, rss_mb: float, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "label": LABELS[name],
        "status": "ok",
        "records": n,
        "seconds": watch.wall,
        "rate": n / watch.wall,
        "cpu_seconds": watch.cpu,
        "cpu_rate": n / watch.cpu if watch.cpu > 0 else None,
        "peak_rss_mb": rss_mb,
        "extrapolated": False,
        **fields,
    }


def unavailable(name: str, reason: str) -> dict[str, Any]:
    return {"name": name, "label": LABELS[name], "status": "n/a", "note": reason}


def misses(args: argparse.Namespace, rejected: bytearray) -> dict[str, Any]:
    """The planted bad records (per kind) a validator let through, and the valid ones it
    rejected, from its per-line verdicts (``rejected[i]`` is 1 when it rejected line ``i``)."""
    if args.labels is None or not args.labels.exists():
        return {}
    from dataquarantine.demo.generator import EXPECTED_KINDS

    labels = args.labels.read_bytes()
    missed: Counter[str] = Counter()
    false_rejects = 0
    for label, rej in zip(labels, rejected, strict=False):
        if label == 0:
            false_rejects += rej
        elif not rej:
            missed[EXPECTED_KINDS[label]] += 1
    return {"missed": dict(missed), "false_rejects": false_rejects}


def trap_misses(check: Any) -> dict[str, int]:
    """The trap records ``check`` (lines -> rejected flags) accepted, per kind of trap."""
    from traps import TRAPS

    flags = check([line for _, line in TRAPS])
    missed: Counter[str] = Counter(
        kind for (kind, _), rej in zip(TRAPS, flags, strict=True) if not rej
    )
    return dict(missed)


# -- the measurements (each runs in its own process) ---------------------------------------------


def measure_floor(args: argparse.Namespace) -> dict[str, Any]:
    import orjson

    loads = orjson.loads
    error = orjson.JSONDecodeError
    n = bad = 0
    with Stopwatch() as watch:
        for batch in read_batches(args.data, args.batch_size):
            for raw in batch:
                try:
                    loads(raw)
                except error:
                    bad += 1
            n += len(batch)
    return row("floor", n, watch, peak_rss_mb(), details={"undecodable": bad})


def measure_seed(args: argparse.Namespace) -> dict[str, Any]:
    validators = seed_validators(args.contracts)
    loads = json.loads
    outcome: Counter[str] = Counter()
    n = 0
    with Stopwatch() as watch:
        for batch in read_batches(args.data, args.batch_size, limit=args.seed_sample):
            for raw in batch:
                try:
                    record = loads(raw)
                except ValueError:  # JSONDecodeError and UnicodeDecodeError
                    outcome["parse_error"] += 1
                    continue
                tag = record.get("_schema") if isinstance(record, dict) else None
                validator = validators.get(tag) if isinstance(tag, str) else None
                if validator is None:
                    outcome["schema_not_found"] += 1
                    continue
                errors = list(validator.iter_errors(record))
                outcome["schema_violation" if errors else "valid"] += 1
            n += len(batch)
    extrapolated = n < args.records
    return row("seed", n, watch, peak_rss_mb(), extrapolated=extrapolated, details=dict(outcome))


def measure_engine(args: argparse.Namespace, *, keep_values: bool = False) -> dict[str, Any]:
    """The engine as the CLI runs it (``keep_values=False``: the decoded values of valid
    records are not retained, the JSONL output being their original bytes)."""
    name = "engine_kept" if keep_values else "engine"
    try:
        from dataquarantine import ContractRegistry, Router
    except Exception as exc:  # not written yet, or broken: report, do not crash the bench
        return unavailable(name, f"{NOT_AVAILABLE}: {type(exc).__name__}: {exc}")
    setup = time.perf_counter()
    router = Router(ContractRegistry.from_directory(args.contracts))
    setup = time.perf_counter() - setup
    caught: Counter[str] = Counter()
    rejected: list[int] = []
    warned = n = 0
    with Stopwatch() as watch:
        for batch in read_batches(args.data, args.batch_size):
            result = router.validate_batch(batch, keep_values=keep_values)
            warned += len(result.warnings)
            for i, res in result.invalid.items():
                caught[res.errors[0].code.value] += 1
                rejected.append(n + i)
            n += len(batch)
    caught["valid"] = n - sum(caught.values())
    rss = peak_rss_mb()
    flags = bytearray(n)
    for i in rejected:
        flags[i] = 1

    def check(lines: list[bytes]) -> list[bool]:
        invalid = router.validate_batch(lines).invalid
        return [i in invalid for i in range(len(lines))]

    details = {"caught": dict(caught), "warned": warned, **misses(args, flags)}
    details["trap_misses"] = trap_misses(check)
    return row(name, n, watch, rss, setup_seconds=setup, details=details)


def measure_peer(args: argparse.Namespace, name: str) -> dict[str, Any]:
    """One peer of bench/peers.py over every line; skipped when its library is missing."""
    from peers import PEERS

    if name not in PEERS:
        return unavailable(name, "not measured: no adapter in bench/peers.py yet")
    setup = time.perf_counter()
    try:
        check = PEERS[name](args.contracts)
    except ImportError as exc:
        return unavailable(name, f"skipped: {exc} (pip install -e '.[bench]')")
    setup = time.perf_counter() - setup
    flags = bytearray()
    with Stopwatch() as watch:
        for batch in read_batches(args.data, args.batch_size):
            flags.extend(check(batch))
    rss = peak_rss_mb()
    details = {**misses(args, flags), "trap_misses": trap_misses(check)}
    details["caught"] = {"rejected": sum(flags), "valid": len(flags) - sum(flags)}
    return row(name, len(flags), watch, rss, setup_seconds=setup, details=details)


def _cli_executable() -> str | None:
    local = Path(sys.executable).with_name("dataquarantine")
    return str(local) if local.exists() else shutil.which("dataquarantine")


def measure_cli(args: argparse.Namespace, name: str = "cli", workers: int = 1) -> dict[str, Any]:
    exe = _cli_executable()
    if exe is None:
        return unavailable(name, f"{NOT_AVAILABLE}: no 'dataquarantine' command")
    with tempfile.TemporaryDirectory(prefix="dq-bench-") as tmp:
        cmd = [
            exe, "validate", str(args.data),
            "--contracts", str(args.contracts),
            "--valid-out", f"{tmp}/valid.jsonl",
            "--store", f"sqlite:///{tmp}/q.db",
            "--payloads", f"file://{tmp}/payloads",
            "--json", "--workers", str(workers),
        ]  # fmt: skip
        with Stopwatch(children=True) as watch:
            proc = subprocess.run(cmd, capture_output=True, timeout=args.timeout, check=False)
    stderr = proc.stderr.decode("utf-8", "replace").strip()
    summary: dict[str, Any] | None = None
    with contextlib.suppress(ValueError):
        summary = json.loads(proc.stdout)
    if proc.returncode != 0 or not isinstance(summary, dict):
        lines = stderr.splitlines() or [f"exit code {proc.returncode}"]
        tail = next((x for x in reversed(lines) if "Error" in x or "error" in x), lines[-1])
        if "ImportError" in stderr or "ModuleNotFoundError" in stderr:
            return unavailable(name, f"{NOT_AVAILABLE}: {tail}")
        return {**unavailable(name, f"failed (exit {proc.returncode}): {tail}"), "status": "error"}
    # Exact for the CLI's lifetime; floored at this (lean) process's RSS when it spawned it.
    total = int(summary.get("total", args.records))
    caught = dict(summary.get("by_code", {}))
    caught["valid"] = summary.get("valid")
    return row(
        name,
        total,
        watch,
        _maxrss_mb(resource.RUSAGE_CHILDREN),
        details={
            "caught": caught,
            "warned": summary.get("warned"),
            "reported_records_per_second": summary.get("records_per_second"),
        },
    )


MEASURE = {
    "floor": measure_floor,
    "seed": measure_seed,
    "engine": measure_engine,
    "engine_kept": lambda args: measure_engine(args, keep_values=True),
    "cli": measure_cli,
    "cli_workers": lambda args: measure_cli(args, "cli_workers", workers=2),
    **{name: (lambda args, name=name: measure_peer(args, name)) for name in PEER_NAMES},
}


# -- the driver -----------------------------------------------------------------------------------


def ensure_data(records: int, seed: int, regen: bool) -> tuple[Path, dict[str, Any]]:
    """The cached event file for (records, seed, generator source); generated when missing."""
    from dataquarantine.demo import generator

    digest = hashlib.sha256(Path(generator.__file__).read_bytes()).hexdigest()[:12]
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"events-{records}-s{seed}-{digest}.jsonl"
    meta_path = path.with_suffix(".json")
    for stale in DATA_DIR.glob("events-*"):  # other generator versions: never reused
        if stale.stem.rsplit("-", 1)[-1] != digest:
            stale.unlink()
    if not regen and path.exists() and meta_path.exists():
        write_labels(path, records, seed)
        return path, json.loads(meta_path.read_text())
    print(f"generating {records:,} events (seed {seed}) -> {path.relative_to(BENCH_DIR.parent)}")
    tmp = path.with_suffix(".tmp")
    start = time.perf_counter()
    counts = generator.write_jsonl(tmp, records, seed=seed)
    seconds = time.perf_counter() - start
    tmp.replace(path)
    meta: dict[str, Any] = {
        "records": records,
        "seed": seed,
        "generator": digest,
        "counts": counts,
        "bytes": path.stat().st_size,
        "generation_seconds": round(seconds, 2),
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    print(f"  {seconds:.1f} s, {meta['bytes'] / 1e6:.0f} MB")
    write_labels(path, records, seed)
    return path, meta


def labels_path(data: Path) -> Path:
    return data.with_suffix(".labels")


def write_labels(data: Path, records: int, seed: int) -> None:
    """One byte per line of ``data``: the index in EXPECTED_KINDS of the outcome it must get
    (the generator is deterministic, so they are regenerated rather than stored with it)."""
    from dataquarantine.demo.generator import EXPECTED_KINDS, generate

    path = labels_path(data)
    if path.exists():
        return
    index = {kind: i for i, kind in enumerate(EXPECTED_KINDS)}
    labels = bytes(index[rec.expected] for rec in generate(records, seed=seed))
    tmp = path.with_suffix(".labels-tmp")
    tmp.write_bytes(labels)
    tmp.replace(path)


def run_child(name: str, args: argparse.Namespace, data: Path) -> dict[str, Any]:
    cmd = [
        sys.executable, str(Path(__file__).resolve()), "--only", name,
        "--data", str(data), "--records", str(args.records),
        "--seed-sample", str(args.seed_sample), "--batch-size", str(args.batch_size),
        "--contracts", str(args.contracts), "--timeout", str(args.timeout),
    ]  # fmt: skip
    if labels_path(data).exists():
        cmd += ["--labels", str(labels_path(data))]
    print(f"measuring {LABELS[name]} ...", flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=args.timeout + 60, check=False)
    except subprocess.TimeoutExpired:
        return {**unavailable(name, f"timed out after {args.timeout} s"), "status": "error"}
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        return dict(json.loads(lines[-1]))
    except (IndexError, ValueError):
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        tail = err[-1] if err else f"exit code {proc.returncode}"
        return {**unavailable(name, f"failed: {tail}"), "status": "error"}


def targets(rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    def rate(name: str) -> float | None:
        r = rows.get(name, {})
        return r.get("rate") if r.get("status") == "ok" else None

    def ratio(a: str, b: str) -> float | None:
        x, y = rate(a), rate(b)
        return x / y if x and y else None

    cli_rss = rows.get("cli", {}).get("peak_rss_mb") if rate("cli") is not None else None
    checks = [
        ("engine >= 12x seed", ratio("engine", "seed"), 12.0, ">="),
        ("engine >= 0.3x parse floor", ratio("engine", "floor"), 0.3, ">="),
        ("engine >= 1.2x hand-rolled", ratio("engine", "handrolled"), 1.2, ">="),
        ("CLI >= 8x seed", ratio("cli", "seed"), 8.0, ">="),
        ("CLI peak RSS < 200 MB", cli_rss, 200.0, "<"),
        ("CLI --workers 2 >= 1.8x 1", ratio("cli_workers", "cli"), 1.8, ">="),
    ]
    out = []
    for name, value, goal, op in checks:
        passed = value is not None and (value >= goal if op == ">=" else value < goal)
        verdict = "n/a" if value is None else "PASS" if passed else "FAIL"
        out.append({"target": name, "value": value, "goal": goal, "verdict": verdict})
    return out


def _ok(rows: dict[str, dict[str, Any]], name: str, key: str = "rate") -> Any:
    r = rows.get(name, {})
    return r.get(key) if r.get("status") == "ok" else None


def render_misses(rows: dict[str, dict[str, Any]]) -> None:
    """Per validator: planted bad records let through (per kind) and trap records accepted."""
    from traps import TRAPS

    measured = [
        (name, d)
        for name in MEASUREMENTS
        if (d := _ok(rows, name, "details") or {}) and "trap_misses" in d
    ]
    if not measured:
        return
    print(f"\nmissed: planted bad records let through, per kind; traps accepted (of {len(TRAPS)})")
    for name, d in measured:
        planted = ", ".join(f"{k} {v:,}" for k, v in sorted(d.get("missed", {}).items())) or "none"
        traps = ", ".join(f"{k} {v}" for k, v in sorted(d["trap_misses"].items())) or "none"
        wrong = d.get("false_rejects")
        extra = f"; valid records rejected: {wrong:,}" if wrong else ""
        print(f"  {LABELS[name]:<40} planted: {planted}; traps: {traps}{extra}")


def render(
    rows: dict[str, dict[str, Any]],
    checks: list[dict[str, Any]],
    meta: dict[str, Any],
    load: tuple[float, float],
) -> None:
    seed, floor = _ok(rows, "seed"), _ok(rows, "floor")
    planted = meta["counts"]
    bad = f", {meta['records'] - planted['valid']:,} planted bad" if planted else ""
    cpus = os.cpu_count() or 1
    print(
        f"\n{meta['records']:,} events ({meta['bytes'] / 1e6:.0f} MB{bad}), {cpus} CPUs, "
        f"Python {platform.python_version()}, load average {load[0]:.1f} -> {load[1]:.1f}"
    )
    head = (
        f"{'measurement':<42} {'records/s':>10} {'peak RSS MB':>11} {'vs seed':>8} "
        f"{'vs floor':>8} {'CPU rec/s':>10}"
    )
    print(head)
    print("-" * len(head))
    for name in MEASUREMENTS:
        r = rows.get(name)
        if r is None:
            continue
        if r.get("status") != "ok":
            print(f"{r['label']:<42} {r.get('note', 'n/a')}")
            continue
        vs_seed = f"{r['rate'] / seed:.2f}x" if seed else "-"
        vs_floor = f"{r['rate'] / floor:.2f}x" if floor else "-"
        cpu = f"{r['cpu_rate']:,.0f}" if r.get("cpu_rate") else "-"
        print(
            f"{r['label']:<42} {r['rate']:>10,.0f} {r['peak_rss_mb']:>11.1f} "
            f"{vs_seed:>8} {vs_floor:>8} {cpu:>10}"
        )
    if _ok(rows, "seed", "extrapolated"):
        print(
            f"  seed design: timed on the first {rows['seed']['records']:,} lines, "
            f"rate extrapolated to {meta['records']:,}"
        )
    for name in ("engine", "cli", "cli_workers"):
        caught = (_ok(rows, name, "details") or {}).get("caught")
        if caught and planted:
            diff = {k: (caught.get(k, 0), v) for k, v in planted.items() if caught.get(k, 0) != v}
            verdict = "matches the generator" if not diff else f"differs (caught, planted): {diff}"
            print(f"  {name}: outcome per kind {verdict}")
    render_misses(rows)
    if max(load) > cpus / 2:
        print(
            "  warning: the machine was busy during the run; records/s and ratios are "
            "skewed (CPU rec/s is less sensitive)"
        )
    print("\ntargets:")
    for c in checks:
        value = "-" if c["value"] is None else f"{c['value']:.2f}"
        print(f"  {c['target']:<30} {value:>8}  {c['verdict']}")


def main(argv: list[str] | None = None) -> int:
    from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=int, default=1_000_000, help="events in the file (1,000,000)")
    p.add_argument("--seed", type=int, default=42, help="generator seed (42)")
    p.add_argument(
        "--seed-sample",
        type=int,
        default=100_000,
        help="lines the seed design is timed on, then extrapolated (100,000)",
    )
    p.add_argument("--batch-size", type=int, default=10_000, help="records per engine batch")
    p.add_argument("--contracts", type=Path, default=DEMO_CONTRACTS_DIR, help="contracts folder")
    p.add_argument("--only", choices=MEASUREMENTS, help="run one measurement, print it as JSON")
    p.add_argument(
        "--skip", choices=MEASUREMENTS, nargs="*", default=[], help="measurements to skip"
    )
    p.add_argument("--data", type=Path, help="event file to use instead of the generated one")
    p.add_argument("--labels", type=Path, help=argparse.SUPPRESS)  # the driver's, per line
    p.add_argument("--regen", action="store_true", help="regenerate the cached event file")
    p.add_argument("--timeout", type=int, default=900, help="seconds allowed per measurement")
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "latest.json", help="results JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = p.parse_args(argv)

    if args.only:
        if args.data is None:
            p.error("--only needs --data")
        emit(MEASURE[args.only](args))
        return 0

    if args.data is not None:
        n = sum(1 for _ in args.data.open("rb"))
        meta: dict[str, Any] = {
            "records": n,
            "seed": None,
            "counts": {},
            "bytes": args.data.stat().st_size,
        }
        args.records, data = n, args.data
    else:
        data, meta = ensure_data(args.records, args.seed, args.regen)
    load_before = os.getloadavg()[0]
    rows = {name: run_child(name, args, data) for name in MEASUREMENTS if name not in args.skip}
    load = (load_before, os.getloadavg()[0])
    checks = targets(rows)
    render(rows, checks, meta, load)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average": {"before": load[0], "after": load[1]},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor(),
        },
        "config": {
            "records": args.records,
            "seed_sample": args.seed_sample,
            "batch_size": args.batch_size,
            "contracts": str(args.contracts),
        },
        "data": {**meta, "path": str(data)},
        "rows": rows,
        "targets": checks,
    }
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nresults: {args.out}")
    failed = any(c["verdict"] == "FAIL" for c in checks)
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
