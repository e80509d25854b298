"""Which contract validates a message, and which key its valid copy gets.

A topic listed in ``topic_contracts`` forces one contract on all of its messages; any other
topic routes each message by its ``_schema`` field. The key of a valid message is the value of
its contract's ``key`` field (a string as UTF-8, a number or boolean as JSON text, an object or
array as compact JSON); when the contract has none, or the record lacks it, the original key
is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from dataquarantine.errors import ContractError, ContractNotFoundError
from dataquarantine.kernel import pointers
from dataquarantine.kernel.results import BatchResult, ContractRef
from dataquarantine.validation.registry import ContractRegistry, Router, split_ref

__all__ = ["KeyPath", "TopicRouting", "key_bytes"]

log = logging.getLogger("dataquarantine.stream")

KeyPath = tuple[str, ...]


def key_bytes(value: Any, path: KeyPath) -> bytes | None:
    """The Kafka key for ``value``: the member at ``path`` encoded, or ``None`` if absent."""
    for part in path:
        if type(value) is dict:
            value = value.get(part)
        elif type(value) is list and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
        if value is None:
            return None
    if type(value) is str:
        return value.encode("utf-8", "surrogatepass")
    try:
        return orjson.dumps(value)
    except TypeError:  # a big integer or another value orjson cannot write
        return str(value).encode()


class TopicRouting:
    """Validates a batch of raw messages through the right :class:`Router` per topic."""

    def __init__(
        self,
        registry: ContractRegistry,
        *,
        topic_contracts: Mapping[str, str] | None = None,
        schema_field: str = "_schema",
    ) -> None:
        self.registry = registry
        self.topic_contracts = dict(topic_contracts or {})
        self.schema_field = schema_field
        self._generation = -1
        self._sync()

    def _sync(self) -> None:
        """(Re)build routers and key paths for the registry's current generation."""
        self.default = Router(self.registry, field=self.schema_field)
        forced: dict[str, Router] = {}
        for topic, ref in self.topic_contracts.items():
            name, version = split_ref(ref)
            self.registry.get(name, version)  # ContractNotFoundError names the bad mapping
            forced[topic] = Router(self.registry, contract=ref, field=self.schema_field)
        self.forced = forced
        self._keys: dict[ContractRef, KeyPath | None] = {}
        #: The same, by the identity of the registry's ContractRef objects (the ones batch
        #: results carry): a dict probe in C, no dataclass hashing per message.
        self.paths_by_id: dict[int, KeyPath | None] = {}
        #: Contracts whose key is one top-level member: its name.
        self.fields_by_id: dict[int, str] = {}
        self._refs: list[ContractRef] = []  # keeps the refs (and so their ids) alive
        for contract in self.registry:
            pointer = contract.spec.key_pointer
            path = pointers.parse(pointer) if pointer else None
            self._keys[contract.ref] = path
            self.paths_by_id[id(contract.ref)] = path
            if path is not None and len(path) == 1:
                self.fields_by_id[id(contract.ref)] = path[0]
            self._refs.append(contract.ref)
        #: Decoded values are kept only when some contract defines a key (it costs ~10%).
        self.keep_values = any(p is not None for p in self._keys.values())
        self._generation = self.registry.generation

    def refresh(self, min_interval: float) -> bool:
        """Reload the contracts folder when it changed (at most every ``min_interval`` s).
        A broken folder is logged and the contracts in use stay."""
        try:
            changed = self.registry.refresh(min_interval=min_interval)
        except (ContractError, ContractNotFoundError, OSError) as exc:
            log.error("contracts not reloaded, the previous ones stay in use: %s", exc)
            return False
        return self.follow() or changed

    def follow(self) -> bool:
        """Rebuild the routes when the registry was reloaded since (called between two
        batches, so a batch is judged by one set of contracts); True when they were."""
        if self._generation == self.registry.generation:
            return False
        try:
            self._sync()
        except ContractNotFoundError as exc:
            log.error("topic_contracts no longer resolves (%s); keeping the old routes", exc)
            self._generation = self.registry.generation  # reported once per reload
            return False
        log.info("contracts reloaded: %d contract version(s)", len(self.registry))
        return True

    def key_path(self, ref: ContractRef | None) -> KeyPath | None:
        return self._keys.get(ref) if ref is not None else None

    def validate(self, topics: Sequence[str], raws: Sequence[bytes]) -> BatchResult:
        """Validate ``raws[i]`` (read from ``topics[i]``)."""
        keep = self.keep_values
        if not self.forced:
            return self.default.validate_batch(raws, keep_values=keep)
        groups: dict[int, list[int]] = {}
        routers: dict[int, Router] = {}
        for i, topic in enumerate(topics):
            router = self.forced.get(topic, self.default)
            groups.setdefault(id(router), []).append(i)
            routers[id(router)] = router
        if len(groups) == 1:
            return next(iter(routers.values())).validate_batch(raws, keep_values=keep)
        n = len(raws)
        merged = BatchResult(n, [None] * n, [None] * n)
        for rid, idx in groups.items():
            part = routers[rid].validate_batch([raws[i] for i in idx], keep_values=keep)
            for j, i in enumerate(idx):
                merged.values[i] = part.values[j]
                merged.contracts[i] = part.contracts[j]
            for j, res in part.invalid.items():
                merged.invalid[idx[j]] = res
            for j, warn in part.warnings.items():
                merged.warnings[idx[j]] = warn
        return merged
