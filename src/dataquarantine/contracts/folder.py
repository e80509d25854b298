"""The ``file://`` contract source: a folder of YAML files, today's default.

Every ``*.yaml`` / ``*.yml`` below the folder is a version (hidden folders skipped). A
registered version is written as ``NAME@VERSION.yaml``, created exclusively (never replacing a
file), and its registration (actor, time, compatibility verdict) is appended to the hidden
``.registry.jsonl`` next to it. Files written by hand have no registration.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from dataquarantine.contracts.loader import discover_contract_files, load_spec
from dataquarantine.contracts.source import StoredContract, same_version
from dataquarantine.errors import ConfigError, DuplicateContractError

__all__ = ["REGISTRATIONS_FILE", "FolderSource", "write_folder", "write_version"]

#: The folder's registration log (hidden: never read as a contract).
REGISTRATIONS_FILE = ".registry.jsonl"


def write_version(directory: Path, entry: StoredContract) -> Path:
    """Write ``entry`` as ``NAME@VERSION.yaml`` in ``directory``, never replacing a file:
    a hidden temporary file (never discovered), then a hard link, which fails when the name
    is taken. Raises DuplicateContractError when it is."""
    path = directory / entry.spec.file_name
    tmp = directory / f".{uuid.uuid4().hex}.tmp"
    text = yaml.safe_dump(entry.definition, sort_keys=False, allow_unicode=True)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.link(tmp, path)
    except FileExistsError:
        raise DuplicateContractError(f"{entry.ref}: {path.name} exists already") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _registration(entry: StoredContract) -> dict[str, Any]:
    return {
        "name": entry.spec.name,
        "version": str(entry.spec.version),
        "fingerprint": entry.fingerprint,
        "registered_by": entry.registered_by,
        "registered_at": entry.registered_at.isoformat() if entry.registered_at else None,
        "verdict": entry.verdict,
        "reasons": list(entry.reasons),
    }


def write_folder(directory: Path, entries: Iterable[StoredContract]) -> int:
    """Write every entry not yet in ``directory`` (``contracts pull``, the local cache);
    returns how many were written. An existing file is left as it is."""
    directory.mkdir(parents=True, exist_ok=True)
    written, rows = 0, []
    for entry in entries:
        if (directory / entry.spec.file_name).exists():
            continue
        write_version(directory, entry)
        rows.append(json.dumps(_registration(entry)) + "\n")
        written += 1
    if rows:
        with (directory / REGISTRATIONS_FILE).open("a", encoding="utf-8") as log:
            log.writelines(rows)
    return written


class FolderSource:
    """Contract versions as files below ``directory``."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ConfigError(f"contracts folder {str(self.directory)!r} does not exist")

    @property
    def location(self) -> str:
        return f"file://{self.directory}"

    def _snapshot(self) -> list[tuple[str, int, int]]:
        out = []
        for path in discover_contract_files(self.directory):
            st = path.stat()
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return out

    def revision(self) -> str:
        """A hash of every contract file's path, modification time and size."""
        return hashlib.sha256(repr(self._snapshot()).encode()).hexdigest()

    def _registrations(self) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with contextlib.suppress(FileNotFoundError):
            for line in (self.directory / REGISTRATIONS_FILE).read_text("utf-8").splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    row = json.loads(line)
                    out[(row["name"], row["version"])] = row
        return out

    def entries(self) -> list[StoredContract]:
        """Every contract file, with its registration when there is one. A bad file raises
        a ContractError naming it."""
        meta = self._registrations()
        out = []
        for path in discover_contract_files(self.directory):
            spec = load_spec(path)
            entry = StoredContract.of(spec)
            row = meta.get((spec.name, str(spec.version)))
            if row is not None and row.get("fingerprint") == entry.fingerprint:
                at = row.get("registered_at")
                entry = StoredContract.of(
                    spec,
                    registered_by=row.get("registered_by"),
                    registered_at=datetime.fromisoformat(at) if at else None,
                    verdict=row.get("verdict", "unchecked"),
                    reasons=row.get("reasons", ()),
                )
            out.append(entry)
        return out

    def add(self, entry: StoredContract) -> bool:
        existing = {e.ref: e for e in self.entries()}
        if same_version(existing.get(entry.ref), entry):
            return False
        write_version(self.directory, entry)
        with (self.directory / REGISTRATIONS_FILE).open("a", encoding="utf-8") as log:
            log.write(json.dumps(_registration(entry)) + "\n")
        return True

    def watch(self, on_change: Callable[[], None]) -> Callable[[], None] | None:
        return None  # polled: the revision is cheap

    def close(self) -> None:
        pass
