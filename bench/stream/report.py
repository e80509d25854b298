"""The benchmark's report: the targets' verdicts and the table on stdout."""

from __future__ import annotations

from typing import Any

CONTENDERS = ("passthrough", "seed", "ours")
LABELS = {
    "passthrough": "passthrough (consume -> produce, no validation)",
    "seed": "seed design (aiokafka + jsonschema, per message)",
    "ours": "ours (dataquarantine stream)",
    "floor": "floor (a bare consumer on the raw topic, no worker)",
}
# The floor is latency only: the same load and consumer settings, and no contender at all.
LATENCY_CONTENDERS = ("ours", "passthrough", "floor")
P99_TARGET = "p99 latency < 10 ms"


def targets(
    rows: dict[str, dict[str, Any]], lat: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    def ok(d: dict[str, Any], key: str) -> Any:
        return d.get(key) if d.get("status") == "ok" else None

    ours = ok(rows.get("ours", {}), "rate")
    passthrough = ok(rows.get("passthrough", {}), "rate")
    seed = ok(rows.get("seed", {}), "rate")
    rss = [
        v
        for v in (ok(rows.get("ours", {}), "peak_rss_mb"), ok(lat.get("ours", {}), "peak_rss_mb"))
        if v is not None
    ]
    checks = [
        (
            "ours >= 0.6x passthrough",
            ours / passthrough if ours and passthrough else None,
            0.6,
            ">=",
        ),
        ("ours >= 20x seed design", ours / seed if ours and seed else None, 20.0, ">="),
        (P99_TARGET, ok(lat.get("ours", {}), "p99_ms"), 10.0, "<"),
        ("worker peak RSS < 200 MB", max(rss) if rss else None, 200.0, "<"),
    ]
    out = []
    for name, value, goal, op in checks:
        if value is None:
            verdict = "n/a"
        else:
            verdict = "PASS" if (value >= goal if op == ">=" else value < goal) else "FAIL"
        out.append({"target": name, "value": value, "goal": goal, "verdict": verdict})
    floor = ok(lat.get("floor", {}), "p99_ms")
    p99 = next(c for c in out if c["target"] == P99_TARGET)
    if floor is not None:
        p99["floor_ms"] = floor
        p99["note"] = f"floor {floor:.2f} ms" + (
            f", ours {p99['value'] - floor:+.2f} ms over it" if p99["value"] is not None else ""
        )
        if floor >= p99["goal"]:
            p99["note"] += "; the floor alone misses the target: not attainable on this broker"
    return out


def render(
    rows: dict[str, dict[str, Any]], lat: dict[str, dict[str, Any]], checks: list[dict[str, Any]]
) -> None:
    passthrough = rows.get("passthrough", {}).get("rate")
    seed = rows.get("seed", {}).get("rate")
    head = f"{'contender':<50} {'msgs/s':>10} {'vs pass':>8} {'vs seed':>8} {'RSS MB':>7}"
    print(head)
    print("-" * len(head))
    for name in CONTENDERS:
        r = rows.get(name)
        if r is None:
            continue
        if r.get("status") != "ok":
            print(f"{r['label']:<50} {r.get('note', 'n/a')}")
            continue
        vs_pass = f"{r['rate'] / passthrough:.2f}x" if passthrough else "-"
        vs_seed = f"{r['rate'] / seed:.1f}x" if seed else "-"
        rss = f"{r['peak_rss_mb']:.0f}" if r.get("peak_rss_mb") else "-"
        print(f"{r['label']:<50} {r['rate']:>10,.0f} {vs_pass:>8} {vs_seed:>8} {rss:>7}")
        landed = r["landed"]
        check = "ok" if r["reconciled"] else "MISSING MESSAGES"
        print(
            f"    {r['records']:,} in -> {landed['valid_topic']:,} valid topic + "
            f"{landed['dlq_topic']:,} DLQ ({check}); rate over the last "
            f"{r['measured_records']:,} ({r['seconds']:.2f} s)"
        )
        if len(r.get("rates", ())) > 1:
            runs = ", ".join(f"{x:,.0f}" for x in r["rates"])
            print(f"    {len(r['rates'])} runs: {runs} msgs/s (median shown)")
        if name == "ours":
            same = landed["valid_topic"] == r["planted_valid"]
            verdict = "as planted" if same else f"planted {r['planted_valid']:,}"
            print(f"    valid messages: {verdict}")
    if rows.get("seed", {}).get("status") == "ok":
        print(f"  seed design: timed on {rows['seed']['records']:,} events only (its rate)")
    for name, r in lat.items():
        if r.get("status") != "ok":
            print(f"latency {name}: {r.get('note')}")
            continue
        floor = name == "floor"
        cpu = r["cpu_seconds"]
        print(
            f"latency {name} "
            + ("to a bare consumer of the raw topic" if floor else "to the valid topic")
            + f" at {r['achieved_rate']:,.0f} msgs/s for {r['seconds']} s: "
            f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, p99.9 {r['p999_ms']:.2f} ms, "
            f"max {r['max_ms']:.2f} ms ({r['received']:,}/{r['expected']:,} received); CPU s: "
            + ("" if floor else f"{name} {cpu['contender']}, ")
            + f"broker {'-' if cpu['broker'] is None else cpu['broker']}"
        )
        if r.get("p99_by_second_ms"):
            print("    p99 by second: " + " ".join(f"{v:.1f}" for v in r["p99_by_second_ms"]))
        if floor:
            continue  # its probe is the bare consumer: there is no second hop
        probe = r["to_probe"]
        print(
            f"    to the probe (a second consume hop on top): p50 {probe['p50_ms']:.2f} ms, "
            f"p99 {probe['p99_ms']:.2f} ms, max {probe['max_ms']:.2f} ms"
        )
    print("\ntargets:")
    for c in checks:
        value = "-" if c["value"] is None else f"{c['value']:.2f}"
        print(f"  {c['target']:<28} {value:>8}  {c['verdict']}")
        if c.get("note"):
            print(f"  {'':<28} {'':>8}  ({c['note']})")
