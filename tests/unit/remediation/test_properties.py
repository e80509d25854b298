"""Properties of the remediation parsers and engine over arbitrary JSON: never raise, the input
is never modified, and remediating twice gives what remediating once gave."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.contracts.model import RemediationSpec
from dataquarantine.remediation import Remediator
from dataquarantine.remediation.engine import encode
from dataquarantine.remediation.scalars import (
    FAIL,
    SKIP,
    coerce_float,
    coerce_int,
    e164_phone,
    lowercase,
    trim,
    uppercase,
)
from dataquarantine.remediation.timestamps import iso_timestamp

NAMES = st.sampled_from(["a", "b", "c", "0", "1"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.from_regex(r"\s*[+-]?[0-9]{1,4}(,[0-9]{3})*(\.[0-9]{0,3})?\s*", fullmatch=True)
    | st.from_regex(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}( [0-9]{2}:[0-9]{2})?", fullmatch=True)
    | st.from_regex(r"\+?[0-9 ()-]{2,16}", fullmatch=True)
    | st.datetimes().map(lambda d: d.isoformat())
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=12,
)
FIELDS = st.lists(NAMES, min_size=1, max_size=3).map(".".join)


@st.composite
def specs(draw: st.DrawFn) -> RemediationSpec:
    field = draw(FIELDS)
    action = draw(
        st.sampled_from(
            [
                "trim",
                "lowercase",
                "uppercase",
                "e164_phone",
                "iso_timestamp",
                "coerce_int",
                "coerce_float",
                "default",
                "rename",
            ]
        )
    )
    options: dict[str, Any] = {}
    if action == "default":
        options["value"] = draw(JSON)
    elif action == "rename":
        options["to"] = draw(FIELDS)
    elif action == "e164_phone":
        options["region"] = draw(st.sampled_from(["FR", "US", "GB"]))
    return RemediationSpec.model_validate({"field": field, "action": action, **options})


FIXES = [
    trim,
    lowercase,
    uppercase,
    coerce_int,
    coerce_float,
    e164_phone("FR"),
    e164_phone(None),
    iso_timestamp(),
]


@given(value=SCALARS | JSON)
def test_every_fix_never_raises_and_is_idempotent(value: Any) -> None:
    for fix in FIXES:
        once = fix(value)
        if once is SKIP or once is FAIL:
            continue
        twice = fix(once)
        assert twice is SKIP or (twice == once and type(twice) is type(once)), (fix, value)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON, rules=st.lists(specs(), min_size=1, max_size=5))
def test_engine_never_raises_keeps_input_and_is_idempotent(
    value: Any, rules: list[RemediationSpec]
) -> None:
    remediator = Remediator(rules)
    before = copy.deepcopy(value)
    once = remediator.apply_value(value)
    assert value == before
    # Rules that fight over one field are not idempotent as a list (lowercase then
    # iso_timestamp; default a then rename a -> b): each rule is, so check lists whose rules
    # touch distinct fields.
    touched = [r.field for r in rules] + [r.to for r in rules if r.to is not None]
    overlap = any(
        a == b or b.startswith(f"{a}.")
        for i, a in enumerate(touched)
        for j, b in enumerate(touched)
        if i != j
    )
    if not overlap:
        twice = remediator.apply_value(once.value)
        assert encode(twice.value) == encode(once.value)
        assert not twice.changes
    # and through bytes, as the double pass does it
    applied = remediator.apply(encode(value))
    assert applied is not None and encode(applied.value) == encode(once.value)
