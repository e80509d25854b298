"""Where the engine's time goes: ``Router.validate_batch`` on the bench's events, profiled.

Times, in one process and on the same lines, the orjson parse floor, the hand-rolled
orjson + jsonschema-rs loop of bench/peers.py and the engine (best of ``--repeat``), then
runs the engine once under cProfile and prints the functions by own time, each as a share
of the profiled total (cProfile inflates Python-level calls: read the shares, not the µs).

Usage: python bench/profile_engine.py [--records N] [--top N] [--repeat N]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from collections.abc import Callable

import orjson

from peers import handrolled


def best_of(repeat: int, run: Callable[[], object]) -> float:
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return min(seconds)


def main() -> int:
    from dataquarantine import ContractRegistry, Router
    from dataquarantine.demo.generator import DEMO_CONTRACTS_DIR, generate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--records", type=int, default=200_000, help="generated events (200,000)")
    p.add_argument("--batch-size", type=int, default=10_000, help="records per batch")
    p.add_argument("--top", type=int, default=20, help="functions listed (20)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs, best kept (3)")
    args = p.parse_args()

    lines = [rec.raw for rec in generate(args.records, seed=42)]
    batches = [lines[i : i + args.batch_size] for i in range(0, len(lines), args.batch_size)]
    router = Router(ContractRegistry.from_directory(DEMO_CONTRACTS_DIR))
    hand = handrolled(DEMO_CONTRACTS_DIR)
    loads, error = orjson.loads, orjson.JSONDecodeError

    def floor() -> int:
        bad = 0
        for batch in batches:
            for raw in batch:
                try:
                    loads(raw)
                except error:
                    bad += 1
        return bad

    def engine() -> None:
        for batch in batches:
            router.validate_batch(batch, keep_values=False)

    def hand_rolled() -> None:
        for batch in batches:
            hand(batch)

    n = len(lines)
    load = os.getloadavg()[0]
    timed = {
        "orjson parse floor": best_of(args.repeat, floor),
        "hand-rolled orjson + jsonschema-rs": best_of(args.repeat, hand_rolled),
        "engine (validate_batch)": best_of(args.repeat, engine),
    }
    print(f"{n:,} events, load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    for name, seconds in timed.items():
        print(f"  {name:<36} {seconds / n * 1e6:6.2f} µs/record {n / seconds:>10,.0f} rec/s")
    ratio = timed["hand-rolled orjson + jsonschema-rs"] / timed["engine (validate_batch)"]
    print(f"  engine / hand-rolled: {ratio:.2f}x\n")

    profile = cProfile.Profile()
    profile.runcall(engine)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    print(f"cProfile, by own time (share of {total:.2f} s profiled):")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (path, line, func), (_, calls, own, cum, _) in rows[: args.top]:
        where = f"{os.path.basename(path)}:{line}({func})" if line else func
        print(f"  {own / total:6.1%}  own {own:6.3f} s  cum {cum:6.3f} s  {calls:>9,}  {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
