"""Conformance runs against official test suites, with a pass/fail tally printed at the end."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PASSED = "passed"
KNOWN = "known failing"
FAILED = "failed"
XPASS = "unexpectedly passing"
#: A test whose inputs or result the product's record model cannot carry (skipped, with why).
INEXPRESSIBLE = "not expressible"
OUTCOMES = (PASSED, KNOWN, FAILED, XPASS, INEXPRESSIBLE)
_GROUP_ORDER = {"required": 0, "format": 1, "optional": 2}
#: The official suites live in the shared folder beside the repository (``../shared``).
SHARED_CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"


@dataclass(frozen=True)
class Suite:
    """Where an official suite is found: ``$env``, else ``../shared/conformance/<folder>``."""

    label: str
    env: str
    folder: str
    #: A sub-folder that must exist for the suite to count as present.
    marker: str

    def root(self) -> Path | None:
        override = os.environ.get(self.env)
        root = Path(override) if override else SHARED_CONFORMANCE / self.folder
        return root if (root / self.marker).is_dir() else None

    def missing(self) -> None:
        """Skip when the suite is not there, but fail under CI (``CI=true``)."""
        message = f"{self.label} not found (set {self.env} or see docs/conformance.md)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Tally:
    """Outcomes per (suite, draft, group): one of :data:`OUTCOMES` each."""

    counts: dict[tuple[str, str, str], Counter[str]] = field(default_factory=dict)

    def record(self, suite: str, draft: str, group: str, outcome: str) -> None:
        self.counts.setdefault((suite, draft, group), Counter())[outcome] += 1


_TALLY = pytest.StashKey[Tally]()


@pytest.fixture(scope="session")
def conformance_tally(request: pytest.FixtureRequest) -> Tally:
    return request.config.stash.setdefault(_TALLY, Tally())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    tally = terminalreporter.config.stash.get(_TALLY, None)
    if tally is None or not tally.counts:
        return
    write = terminalreporter.write_line
    terminalreporter.section("conformance")
    for suite in sorted({key[0] for key in tally.counts}):
        write(f"{suite}:")
        keys = sorted(
            (k for k in tally.counts if k[0] == suite),
            key=lambda k: (k[1], _GROUP_ORDER.get(k[2], 9), k[2]),
        )
        for _, draft, group in keys:
            counts = tally.counts[(suite, draft, group)]
            total = sum(counts.values())
            parts = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o] or o == PASSED)
            write(f"  {draft:<13} {group:<9} {counts[PASSED]:>5}/{total:<5} ({parts})")
