"""Revisions and their field changes, as stored."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dataquarantine.kernel.revisions import FieldChange, Revision, RevisionKind, change_from_dict

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)


@given(st.text(), st.text(), JSON, JSON, st.booleans())
def test_change_round_trips_through_a_dict(
    path: str, action: str, old: object, new: object, existed: bool
) -> None:
    change = FieldChange(path, action, old, new, existed_before=existed)
    assert change_from_dict(change.to_dict()) == change


def test_a_change_stored_before_existed_before_was_added() -> None:
    change = change_from_dict({"path": "/a", "action": "trim", "old": " x", "new": "x"})
    assert change.existed_before


def test_revision_values() -> None:
    assert [k.value for k in RevisionKind] == ["edit", "remediation", "fix", "undo"]
    assert Revision(b"{}", RevisionKind.EDIT).valid
