"""The local-folder payload store.

Invalid keys are rejected with PayloadNotFoundError (terminal): only keys of the shape we
produce can name an object, and nothing outside the store's folder is ever touched.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataquarantine.errors import (
    ConfigError,
    PayloadNotFoundError,
    PayloadStoreError,
    PayloadStoreUnavailableError,
)
from dataquarantine.quarantine.payloads import (
    LocalPayloadStore,
    chunk_key,
    open_payload_store,
    validate_key,
)

DATA = b"0123456789abcdefghij"


@pytest.fixture
def store(tmp_path: Path) -> LocalPayloadStore:
    return LocalPayloadStore(tmp_path / "payloads")


def tmp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp-*")]


def test_put_writes_a_content_addressed_object(store: LocalPayloadStore) -> None:
    key = store.put_chunk(DATA)
    sha = hashlib.sha256(DATA).hexdigest()
    assert key == f"chunks/{sha[:2]}/{sha}"
    assert (store.root / key).read_bytes() == DATA
    assert tmp_files(store.root) == []


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_chunks_are_private_to_their_owner(store: LocalPayloadStore) -> None:
    key = store.put_chunk(DATA)
    assert stat.S_IMODE((store.root / key).stat().st_mode) == 0o600


def test_putting_the_same_chunk_again_skips_the_write(store: LocalPayloadStore) -> None:
    key = store.put_chunk(DATA)
    before = (store.root / key).stat()
    assert store.put_chunk(DATA) == key
    after = (store.root / key).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_damaged_object_of_the_wrong_size_is_replaced(store: LocalPayloadStore) -> None:
    key = store.put_chunk(DATA)
    (store.root / key).write_bytes(DATA[:5])
    store.put_chunk(DATA)
    assert (store.root / key).read_bytes() == DATA


def test_a_failed_write_leaves_neither_object_nor_temporary_file(
    store: LocalPayloadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(PayloadStoreUnavailableError, match="No space left"):
        store.put_chunk(DATA)
    monkeypatch.undo()
    assert not (store.root / chunk_key(DATA)).exists()
    assert tmp_files(store.root) == []
    # The disk has room again: the retry succeeds.
    assert store.get_range(store.put_chunk(DATA), 0, len(DATA)) == DATA


def test_a_leftover_temporary_file_does_not_matter(store: LocalPayloadStore) -> None:
    key = chunk_key(DATA)
    shard = (store.root / key).parent
    shard.mkdir(parents=True)
    (shard / ".tmp-crashed").write_bytes(DATA[:3])
    assert store.put_chunk(DATA) == key
    assert store.get_range(key, 0, len(DATA)) == DATA


def test_concurrent_puts_of_the_same_chunk(store: LocalPayloadStore) -> None:
    data = os.urandom(1 << 20)
    errors: list[BaseException] = []

    def put() -> None:
        try:
            store.put_chunk(data)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (store.root / chunk_key(data)).read_bytes() == data
    assert tmp_files(store.root) == []


@pytest.mark.parametrize(
    ("offset", "length", "expected"),
    [(0, 20, DATA), (0, 1, b"0"), (5, 5, b"56789"), (19, 1, b"j"), (7, 0, b""), (20, 0, b"")],
)
def test_range_reads_are_exact(
    store: LocalPayloadStore, offset: int, length: int, expected: bytes
) -> None:
    key = store.put_chunk(DATA)
    assert store.get_range(key, offset, length) == expected


@pytest.mark.parametrize(("offset", "length"), [(15, 6), (20, 1), (100, 1), (-1, 2), (0, -1)])
def test_ranges_outside_the_object_are_not_found(
    store: LocalPayloadStore, offset: int, length: int
) -> None:
    key = store.put_chunk(DATA)
    with pytest.raises(PayloadNotFoundError):
        store.get_range(key, offset, length)


def test_a_missing_object_is_not_found(store: LocalPayloadStore) -> None:
    with pytest.raises(PayloadNotFoundError):
        store.get_range(chunk_key(b"never written"), 0, 1)


SHA = hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../outside",
        "/etc/passwd",
        f"/chunks/{SHA[:2]}/{SHA}",
        f"chunks/{SHA[:2]}/../../../outside",
        f"chunks/{SHA[:2]}/{SHA}/..",
        f"chunks\\{SHA[:2]}\\{SHA}",
        f"chunks/{SHA[:2]}/{SHA.upper()}",
        f"chunks/{SHA[:2]}/{SHA[:-1]}",
        f"chunks/{SHA[:2]}/{SHA}\n",
        f"chunks/zz/{SHA}",
        f"chunks/{'00' if SHA[:2] != '00' else '11'}/{SHA}",
        f"chunks//{SHA}",
        f"./chunks/{SHA[:2]}/{SHA}",
        f"other/{SHA[:2]}/{SHA}",
    ],
)
def test_keys_we_do_not_produce_are_rejected(store: LocalPayloadStore, key: str) -> None:
    with pytest.raises(PayloadNotFoundError, match="invalid payload key"):
        store.get_range(key, 0, 1)


def test_traversal_cannot_read_outside_the_folder(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"secret")
    store = LocalPayloadStore(tmp_path / "payloads")
    store.put_chunk(DATA)
    with pytest.raises(PayloadNotFoundError):
        store.get_range("chunks/../../secret", 0, 6)


@given(
    data=st.binary(min_size=1, max_size=2000),
    bounds=st.tuples(st.integers(0, 2000), st.integers(0, 2000)),
)
@settings(max_examples=50, deadline=None)
def test_any_range_round_trips(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, bounds: tuple[int, int]
) -> None:
    store = LocalPayloadStore(tmp_path_factory.mktemp("payloads"))
    key = store.put_chunk(data)
    start, end = sorted(b % (len(data) + 1) for b in bounds)
    assert validate_key(key) == key
    assert store.get_range(key, start, end - start) == data[start:end]


def test_check_creates_the_folder(tmp_path: Path) -> None:
    store = LocalPayloadStore(tmp_path / "a" / "b")
    store.check()
    assert (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []


def test_check_fails_when_the_folder_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    store = LocalPayloadStore(tmp_path / "file" / "payloads")
    with pytest.raises(PayloadStoreError, match="not writable") as info:
        store.check()
    assert not isinstance(info.value, PayloadStoreUnavailableError)
    with pytest.raises(PayloadStoreError):
        store.put_chunk(DATA)


# -- open_payload_store ---------------------------------------------------------------------


def test_file_url_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_payload_store("file://.dataquarantine/payloads")
    assert isinstance(store, LocalPayloadStore)
    assert store.root == tmp_path / ".dataquarantine" / "payloads"
    key = store.put_chunk(DATA)
    monkeypatch.chdir(tmp_path.parent)  # resolved once, at opening
    assert store.get_range(key, 0, 3) == b"012"


def test_absolute_file_url_and_plain_path(tmp_path: Path) -> None:
    absolute = open_payload_store(tmp_path.as_uri())
    assert isinstance(absolute, LocalPayloadStore)
    assert absolute.root == tmp_path
    plain = open_payload_store(str(tmp_path / "plain"))
    assert isinstance(plain, LocalPayloadStore)
    assert plain.root == tmp_path / "plain"


def test_percent_escapes_in_file_urls(tmp_path: Path) -> None:
    store = open_payload_store((tmp_path / "with space").as_uri())
    assert isinstance(store, LocalPayloadStore)
    assert store.root == tmp_path / "with space"


@pytest.mark.parametrize(
    "url", ["", "   ", "file://", "gs://bucket/x", "http://host/x", "file:///x?y=1", "file:///x#f"]
)
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_payload_store(url)
