"""Reading YAML that may come from someone else: contracts, gate files, ``$ref`` documents.

``yaml.safe_load`` builds no Python objects beyond plain data, but an alias (``*name``) is the
same object as its anchor, so twenty lines of anchors can stand for 2**20 copies of a value
("billion laughs"): anything that walks the result (pydantic, jsonschema-rs, a JSON dump) then
expands it to gigabytes. :func:`load_yaml` refuses, before anything is built:

* a text longer than :data:`MAX_YAML_BYTES`;
* a document that would expand to more than :data:`MAX_YAML_NODES` nodes, counting every alias
  as the full copy it stands for (a moderate use of anchors, such as shared defaults, is far
  below this);
* a recursive alias (an anchor used inside itself), which has no finite expansion.

Every refusal is a :class:`YamlLimitError`, a ``yaml.YAMLError``: callers that already translate
YAML errors into their own (naming the file) need no change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_NODES", "YamlLimitError", "load_yaml", "read_yaml"]

#: Largest YAML text read (4 MiB).
MAX_YAML_BYTES: Final = 4 * 1024 * 1024
#: Most nodes a YAML document may expand to, every alias counted as a full copy.
MAX_YAML_NODES: Final = 1_000_000

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlLimitError(yaml.YAMLError):
    """A YAML text over the size or expansion limits, or with a recursive alias."""


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes of the document with every alias expanded (a shared node counted once per use);
    stops counting past ``limit``. Raises :class:`YamlLimitError` on a recursive alias."""
    size: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            total = 1
            for child in _children(node):
                total += size[id(child)]
            size[key] = min(total, limit + 1)
            continue
        if key in size:
            continue
        if key in active:
            raise YamlLimitError("a recursive alias (an anchor used inside itself) is not allowed")
        active.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in active:
                raise YamlLimitError(
                    "a recursive alias (an anchor used inside itself) is not allowed"
                )
            if id(child) not in size:
                stack.append((child, False))
    return size[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str) -> Any:
    """Parse one YAML document as plain data (``yaml.safe_load``), within the limits above."""
    if len(text) > MAX_YAML_BYTES:
        raise YamlLimitError(f"the YAML text is longer than {MAX_YAML_BYTES} characters")
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_YAML_NODES) > MAX_YAML_NODES:
            raise YamlLimitError(
                f"the YAML document expands to more than {MAX_YAML_NODES} nodes "
                "(aliases counted as copies of their anchor): too many or nested aliases"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_yaml(path: Path) -> Any:
    """Read and parse a YAML file within the limits above.

    Raises ``OSError``/``UnicodeDecodeError`` when it cannot be read, ``yaml.YAMLError``
    (:class:`YamlLimitError` included) when it is not acceptable YAML."""
    with path.open("rb") as fh:
        raw = fh.read(MAX_YAML_BYTES + 1)
    if len(raw) > MAX_YAML_BYTES:
        raise YamlLimitError(f"the file is larger than {MAX_YAML_BYTES} bytes")
    return load_yaml(raw.decode("utf-8"))
