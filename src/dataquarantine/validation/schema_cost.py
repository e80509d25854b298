"""A static bound on how much work (and how many errors) a JSON Schema can cost per record.

A validator applies subschemas to each value of a record: ``allOf``/``anyOf``/``oneOf``,
``$ref`` and friends apply theirs *in place* (to the same value), ``properties``, ``items`` and
friends to the value's members. A schema of 2 KB whose ``$defs`` say thirty times "``allOf``
the previous one twice" applies 2**30 subschemas to a single value, and reports as many errors
when the value is wrong.

:func:`fanout` computes, without looking at any record, the most subschema applications that
can land on one value of a record at any depth (up to
:data:`~dataquarantine.validation.limits.MAX_DEPTH`): the evaluation (and error) cost of a
record is at most that number times the record's number of values. The bound is conservative
(every ``patternProperties`` entry is assumed to match, every ``anyOf`` branch to be tried).
A ``$ref`` cycle that never moves into a member of the value (``{"$ref": "#"}`` at the root)
never ends and counts as unbounded. References this module cannot resolve (a remote schema that
is not given, a ``$dynamicRef`` resolved elsewhere at run time) count as one application.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import unquote, urldefrag, urljoin

from dataquarantine.kernel import pointers
from dataquarantine.validation.limits import MAX_DEPTH, MAX_FANOUT

__all__ = ["MAX_FANOUT", "UNBOUNDED", "fanout"]

#: What :func:`fanout` answers for a schema whose cost has no useful bound.
UNBOUNDED: Final = 2**62

_IN_PLACE_LISTS: Final = ("allOf", "anyOf", "oneOf")
_IN_PLACE_ONE: Final = ("not", "if", "then", "else")
_REFS: Final = ("$ref", "$dynamicRef", "$recursiveRef")
_IN_PLACE_MAPS: Final = ("dependentSchemas", "dependencies")
_OBJECT_ONE: Final = ("additionalProperties", "unevaluatedProperties", "propertyNames")
_ARRAY_ONE: Final = ("additionalItems", "unevaluatedItems", "contains")
_DEFS: Final = ("$defs", "definitions")

#: Loads the document of an absolute URI (no fragment); raises to refuse.
Loader = Callable[[str], Any]


class _Node:
    """One subschema (an object) with its outgoing edges, as indexes into the node list."""

    __slots__ = ("arr_max", "arr_sum", "in_place", "obj_max", "obj_sum")

    def __init__(self) -> None:
        self.in_place: list[int] = []
        self.obj_max: list[int] = []  # ``properties``: one of them applies to a member
        self.obj_sum: list[int] = []
        self.arr_max: list[int] = []  # ``prefixItems`` / ``items`` as a list: one per item
        self.arr_sum: list[int] = []


class _Graph:
    """Subschemas reachable from the root, their references resolved."""

    def __init__(self, root: Any, base_uri: str | None, load: Loader | None) -> None:
        self.load = load
        self.nodes: list[_Node] = []
        self.index: dict[int, int] = {}
        self.resources: dict[str, Any] = {}
        self.anchors: dict[tuple[str, str], Any] = {}
        self.base_of: dict[int, str] = {}
        self._keep: list[Any] = []  # loaded documents stay alive: ids must not be reused
        self.leaf = self._new()  # ``true``/``false`` and unresolvable references
        self.root = self._register(root, base_uri or "urn:dataquarantine:root")

    def _new(self) -> int:
        self.nodes.append(_Node())
        return len(self.nodes) - 1

    def _register(self, document: Any, uri: str) -> int:
        """Index ``$id``/``$anchor`` of a document, then build the graph from its root."""
        self._keep.append(document)
        self.resources.setdefault(urldefrag(uri)[0], document)
        self._index_ids(document, uri)
        return self._build(document, uri)

    def _index_ids(self, document: Any, uri: str) -> None:
        stack: list[tuple[Any, str]] = [(document, uri)]
        while stack:
            node, base = stack.pop()
            if not isinstance(node, dict) or id(node) in self.base_of:
                continue
            ident = node.get("$id", node.get("id"))
            if isinstance(ident, str):
                full = _join(base, ident)
                doc, frag = urldefrag(full)
                if frag and not frag.startswith("/"):
                    self.anchors.setdefault((doc, frag), node)
                else:
                    base = doc
                    self.resources.setdefault(doc, node)
            for key in ("$anchor", "$dynamicAnchor"):
                name = node.get(key)
                if isinstance(name, str):
                    self.anchors.setdefault((urldefrag(base)[0], name), node)
            self.base_of[id(node)] = base
            for child in _subschemas(node):
                stack.append((child, base))

    def _build(self, document: Any, uri: str) -> int:
        if not isinstance(document, dict):
            return self.leaf
        first = self._id(document)
        todo = [document]
        while todo:
            schema = todo.pop()
            node = self.nodes[self.index[id(schema)]]
            base = self.base_of.get(id(schema), uri)
            for edges, children in _edges(schema, node):
                for child in children:
                    edges.append(self._target(child, todo))
            for key in _REFS:
                ref = schema.get(key)
                if isinstance(ref, str):
                    node.in_place.append(self._target(self._resolve(ref, base), todo))
        return first

    def _id(self, schema: dict[str, Any]) -> int:
        found = self.index.get(id(schema))
        if found is None:
            found = self.index[id(schema)] = self._new()
        return found

    def _target(self, schema: Any, todo: list[Any]) -> int:
        if not isinstance(schema, dict):
            return self.leaf
        if id(schema) in self.index:
            return self.index[id(schema)]
        todo.append(schema)
        return self._id(schema)

    def _resolve(self, ref: str, base: str) -> Any:
        doc_uri, frag = urldefrag(_join(base, ref))
        doc = self.resources.get(doc_uri)
        if doc is None and self.load is not None:
            try:
                loaded = self.load(doc_uri)
            except Exception:
                return None
            self._keep.append(loaded)
            self.resources[doc_uri] = loaded
            self._index_ids(loaded, doc_uri)
            doc = loaded
        if doc is None:
            return None
        if not frag:
            return doc
        if frag.startswith("/"):
            node = doc
            for part in frag[1:].split("/"):
                key = pointers.unescape(unquote(part))
                if isinstance(node, dict) and key in node:
                    node = node[key]
                elif (
                    isinstance(node, list)
                    and key.isascii()
                    and key.isdigit()
                    and int(key) < len(node)
                ):
                    node = node[int(key)]
                else:
                    return None
            return node
        return self.anchors.get((doc_uri, frag))


def _join(base: str, ref: str) -> str:
    # urljoin ignores the base for schemes it does not know (urn:, json-schema:).
    if ref.startswith("#"):
        return urldefrag(base)[0] + ref
    return urljoin(base, ref)


def _values(value: Any) -> Iterable[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return value.values()
    return ()


def _subschemas(schema: Mapping[str, Any]) -> Iterable[Any]:
    """Every subschema position, definitions included (for ``$id``/``$anchor`` indexing)."""
    for key, value in schema.items():
        if key in _IN_PLACE_LISTS or key in ("prefixItems",):
            yield from _values(value)
        elif key in _IN_PLACE_ONE or key in _OBJECT_ONE or key in _ARRAY_ONE:
            yield value
        elif key == "items":
            yield from value if isinstance(value, list) else (value,)
        elif key in _IN_PLACE_MAPS or key in _DEFS or key in ("properties", "patternProperties"):
            yield from _values(value)


def _edges(schema: Mapping[str, Any], node: _Node) -> Iterable[tuple[list[int], list[Any]]]:
    def one(key: str) -> list[Any]:
        return [schema[key]] if key in schema else []

    for key in _IN_PLACE_LISTS:
        yield node.in_place, list(_values(schema.get(key)))
    for key in _IN_PLACE_ONE:
        yield node.in_place, one(key)
    for key in _IN_PLACE_MAPS:
        # ``dependencies`` also holds lists of names (dependentRequired): not schemas.
        yield node.in_place, [v for v in _values(schema.get(key)) if isinstance(v, (dict, bool))]
    yield node.obj_max, list(_values(schema.get("properties")))
    yield node.obj_sum, list(_values(schema.get("patternProperties")))
    for key in _OBJECT_ONE:
        yield node.obj_sum, one(key)
    items = schema.get("items")
    listed = items if isinstance(items, list) else []
    yield node.arr_max, [*_values(schema.get("prefixItems")), *listed]
    if isinstance(items, (dict, bool)):
        yield node.arr_sum, [items]
    for key in _ARRAY_ONE:
        yield node.arr_sum, one(key)


def _in_place_order(nodes: list[_Node]) -> list[int] | None:
    """Nodes ordered so that in-place targets come first; ``None`` on an in-place cycle."""
    order: list[int] = []
    state = [0] * len(nodes)  # 0 new, 1 in progress, 2 done
    for start in range(len(nodes)):
        if state[start]:
            continue
        stack = [(start, 0)]
        state[start] = 1
        while stack:
            n, i = stack[-1]
            targets = nodes[n].in_place
            if i < len(targets):
                stack[-1] = (n, i + 1)
                t = targets[i]
                if state[t] == 1:
                    return None
                if state[t] == 0:
                    state[t] = 1
                    stack.append((t, 0))
            else:
                state[n] = 2
                order.append(n)
                stack.pop()
    return order


def fanout(
    schema: Any,
    *,
    base_uri: str | None = None,
    load: Loader | None = None,
    depth: int | None = None,
) -> int:
    """Most subschema applications ``schema`` can make on one value of a record nested at
    most ``depth`` levels (:data:`UNBOUNDED` when there is no useful bound). ``load`` is asked
    for referenced documents that are not part of ``schema`` (absolute URIs); ``depth``
    defaults to :data:`~dataquarantine.validation.limits.MAX_DEPTH`."""
    if depth is None:
        depth = MAX_DEPTH
    graph = _Graph(schema, base_uri, load)
    nodes = graph.nodes
    order = _in_place_order(nodes)
    if order is None:
        return UNBOUNDED
    root = graph.root
    previous = [0] * len(nodes)
    seen: set[tuple[int, ...]] = set()
    worst = 0
    for level in range(depth + 1):
        current = [0] * len(nodes)
        for n in order:
            node = nodes[n]
            total = 1 if level == 0 else _members(node, previous)
            for t in node.in_place:
                total += current[t]
            current[n] = min(total, UNBOUNDED)
        worst = max(worst, current[root])
        if worst >= UNBOUNDED:
            return UNBOUNDED
        state = tuple(current)
        if not any(state) or state in seen:  # nothing deeper, or the same again from here on
            break
        seen.add(state)
        previous = current
    return worst


def _members(node: _Node, level: list[int]) -> int:
    obj = max((level[t] for t in node.obj_max), default=0) + sum(level[t] for t in node.obj_sum)
    arr = max((level[t] for t in node.arr_max), default=0) + sum(level[t] for t in node.arr_sum)
    return max(obj, arr)
