"""Remediation benchmark: what the double pass costs next to validation alone, same run.

A contract with six remediation rules (trim, lowercase, e164_phone, coerce_int,
iso_timestamp, default) and two generated JSONL inputs:

  mixed  N records, 5% of them invalid and fixable by the rules (the usual case);
  dirty  N records, all invalid and fixable (the worst case: every record pays).

Per input, each in its own subprocess (so peak RSS is its own):

  validate    Router.validate_batch over every line (what a run without rules pays)
  remediate   the same, then Remediation.attempt (fix + validate again) on every invalid one

The cost per remediated record is (remediate - validate) / remediated records.

Usage: python bench/remediation/run.py [--records N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CONTRACT = """\
name: signup
version: 1.0.0
phone_region: FR
schema:
  type: object
  required: [id, email, phone, age, at, country]
  properties:
    id: {type: integer}
    email: {type: string, pattern: "^[a-z0-9.]+@[a-z0-9.]+$"}
    phone: {type: string, pattern: "^\\\\+[0-9]{8,15}$"}
    age: {type: integer, minimum: 0}
    at: {type: string, format: date-time}
    country: {type: string, minLength: 2, maxLength: 2}
remediation:
  - {field: email, action: trim}
  - {field: email, action: lowercase}
  - {field: phone, action: e164_phone}
  - {field: age, action: coerce_int}
  - {field: at, action: iso_timestamp}
  - {field: country, action: default, value: FR}
"""

WARM_UP = b'{"id":0,"email":" A@B.FR ","phone":"06 12 34 56 78","age":"1","at":"01/05/2024 10:30"}'


def peak_rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(path: Path, n: int, dirty_ratio: float, seed: int = 5) -> None:
    rng = random.Random(seed)
    with path.open("wb") as f:
        for i in range(n):
            digits = "".join(rng.choice("0123456789") for _ in range(8))
            if rng.random() < dirty_ratio:
                rec: dict[str, Any] = {
                    "id": i,
                    "email": f"  User{i}@Example.COM ",
                    "phone": f"06 {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}",
                    "age": f" {rng.randint(18, 90)} ",
                    "at": f"{rng.randint(1, 28):02d}/05/2024 {rng.randint(0, 23):02d}:30",
                }
            else:
                rec = {
                    "id": i,
                    "email": f"user{i}@example.com",
                    "phone": f"+336{digits}",
                    "age": rng.randint(18, 90),
                    "at": "2024-05-01T10:30:00Z",
                    "country": "FR",
                }
            f.write(json.dumps(rec, separators=(",", ":")).encode() + b"\n")


def measure(data: Path, contracts: Path, remediate: bool, batch_size: int) -> dict[str, Any]:
    from dataquarantine.remediation import Remediation
    from dataquarantine.validation.registry import ContractRegistry, Router

    router = Router(ContractRegistry.from_directory(contracts), contract="signup")
    remediation = Remediation()
    lines = data.read_bytes().splitlines()
    # Warm up outside the clock: the phone metadata of a region and strptime's format regexes
    # load on first use (a one-off of some tens of milliseconds per process).
    router.validate_batch(lines[:1])
    if remediate:
        contract = router.lookup("signup")
        assert contract is not None
        remediation.attempt(contract, WARM_UP)
    total = invalid = fixed = 0
    started = time.perf_counter()
    for start in range(0, len(lines), batch_size):
        batch = lines[start : start + batch_size]
        result = router.validate_batch(batch, keep_values=False)
        total += result.size
        invalid += result.invalid_count
        if remediate and result.invalid:
            for i, res in result.invalid.items():
                contract = router.lookup(str(res.contract))
                if contract is None:
                    continue
                attempt = remediation.attempt(contract, batch[i], res.value)
                fixed += attempt is not None and attempt.valid
    seconds = time.perf_counter() - started
    return {
        "records": total,
        "invalid": invalid,
        "remediated": fixed,
        "seconds": seconds,
        "records_per_second": total / seconds,
        "peak_rss_mb": peak_rss_mb(),
    }


def run_child(data: Path, contracts: Path, remediate: bool, batch_size: int) -> dict[str, Any]:
    args = [sys.executable, __file__, "--child", str(data), "--contracts", str(contracts)]
    args += ["--batch-size", str(batch_size)] + (["--remediate"] if remediate else [])
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--contracts", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--remediate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(measure(args.child, args.contracts, args.remediate, args.batch_size)))
        return 0

    with tempfile.TemporaryDirectory(prefix="dq-bench-remediation-") as tmp:
        root = Path(tmp)
        contracts = root / "contracts"
        contracts.mkdir()
        (contracts / "signup.yaml").write_text(CONTRACT)
        print(f"remediation benchmark: {args.records:,} records per input")
        header = f"{'input':<6} {'run':<10} {'records/s':>12} {'peak MB':>8} {'remediated':>11}"
        print(header)
        print("-" * len(header))
        for name, ratio in (("mixed", 0.05), ("dirty", 1.0)):
            data = root / f"{name}.jsonl"
            generate(data, args.records, ratio)
            base = run_child(data, contracts, False, args.batch_size)
            fix = run_child(data, contracts, True, args.batch_size)
            for label, r in (("validate", base), ("remediate", fix)):
                print(
                    f"{name:<6} {label:<10} {r['records_per_second']:>12,.0f} "
                    f"{r['peak_rss_mb']:>8.0f} {r['remediated']:>11,}"
                )
            extra = fix["seconds"] - base["seconds"]
            per_fixed = extra / fix["remediated"] * 1e6 if fix["remediated"] else float("nan")
            ratio_txt = fix["records_per_second"] / base["records_per_second"]
            print(
                f"{name:<6} => throughput x{ratio_txt:.2f} of validation alone; "
                f"{per_fixed:.1f} us per remediated record "
                f"({base['seconds'] / base['records'] * 1e6:.2f} us per record to validate)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
