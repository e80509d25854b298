"""What an edit changed: a JSON Pointer diff of two JSON values (pure)."""

from __future__ import annotations

from typing import Any

from dataquarantine.kernel import pointers
from dataquarantine.kernel.revisions import FieldChange

__all__ = ["MAX_CHANGES", "diff_json"]

#: A diff stops after this many changes (an edit that rewrites everything is one big change).
MAX_CHANGES = 1000


def diff_json(old: Any, new: Any, *, action: str = "edit") -> tuple[FieldChange, ...]:
    """Changes that turn ``old`` into ``new``, by JSON Pointer (objects key by key, arrays
    index by index; a removed field has ``new=None``; an added one ``existed_before=False``)."""
    out: list[FieldChange] = []
    _walk(old, new, "", action, out)
    return tuple(out)


def _walk(old: Any, new: Any, path: str, action: str, out: list[FieldChange]) -> None:
    if len(out) >= MAX_CHANGES:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            child = f"{path}/{pointers.escape(str(key))}"
            if key not in new:
                out.append(FieldChange(child, action, old[key], None))
            elif key not in old:
                out.append(FieldChange(child, action, None, new[key], existed_before=False))
            else:
                _walk(old[key], new[key], child, action, out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(a, b, f"{path}/{i}", action, out)
        return
    if type(old) is not type(new) or old != new:
        out.append(FieldChange(path, action, old, new))
