from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataquarantine.errors import ConfigError
from dataquarantine.io.readers import detect_format, iter_jsonl, read_batches
from dataquarantine.io.records import RecordBatch

BOM = b"\xef\xbb\xbf"


def reference(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(line, raw, original) of every record, by the documented rules, the slow obvious way."""
    out = []
    pos = 0
    lineno = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        original = data[pos:] if end < 0 else data[pos : end + 1]
        pos = len(data) if end < 0 else end + 1
        lineno += 1
        raw = original
        if raw.endswith(b"\n"):
            raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
        if lineno == 1 and raw.startswith(BOM):
            raw = raw[3:]
        if raw.strip(b" \t\r"):
            out.append((lineno, raw, original))
    return out


def flatten(batches: list[RecordBatch]) -> list[tuple[int, bytes, bytes]]:
    out = []
    for batch in batches:
        assert batch.format == "jsonl"
        assert batch.values is None
        assert batch.originals is not None
        assert len(batch.raws) == len(batch.lines) == len(batch.originals)
        out.extend(zip(batch.lines, batch.raws, batch.originals, strict=True))
    return out


def read_bytes(data: bytes, *, batch_size: int = 3, block_size: int = 7) -> list[RecordBatch]:
    return list(iter_jsonl(io.BytesIO(data), "mem", batch_size=batch_size, block_size=block_size))


line_bytes = st.one_of(
    st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from([b"", b" ", b"\t", b"\r", b" \r", b"{}", b'{"a":1}', BOM, BOM + b"{}"]),
    st.text(max_size=10).map(lambda s: s.encode("utf-8", "surrogatepass").replace(b"\n", b"")),
)


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(line_bytes, max_size=30))
    terminators = draw(
        st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(lines), max_size=len(lines))
    )
    data = b"".join(line + term for line, term in zip(lines, terminators, strict=True))
    if lines and draw(st.booleans()):
        data = data[: -len(terminators[-1])]  # no final newline
    return data


@settings(max_examples=400, deadline=None)
@given(
    data=jsonl_files(),
    batch_size=st.integers(1, 5),
    block_size=st.integers(1, 40),
)
def test_reader_matches_reference_for_any_bytes(
    data: bytes, batch_size: int, block_size: int
) -> None:
    batches = read_bytes(data, batch_size=batch_size, block_size=block_size)
    assert flatten(batches) == reference(data)
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert all(len(b) == batch_size for b in batches[:-1])


@settings(max_examples=200, deadline=None)
@given(data=jsonl_files(), block_size=st.integers(1, 40))
def test_originals_rebuild_the_file_except_blank_lines(data: bytes, block_size: int) -> None:
    records = flatten(read_bytes(data, block_size=block_size))
    kept = b"".join(original for _, _, original in records)
    assert kept == b"".join(original for _, _, original in reference(data))
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if len(records) == physical:
        # no blank line: every byte of the input is in some original
        assert kept == data


def test_crlf_blank_lines_and_no_final_newline() -> None:
    data = b'{"a":1}\r\n\n  \t\r\n{"b":2}\nnot json \xff\n{"c":3}'
    records = flatten(read_bytes(data))
    assert records == [
        (1, b'{"a":1}', b'{"a":1}\r\n'),
        (4, b'{"b":2}', b'{"b":2}\n'),
        (5, b"not json \xff", b"not json \xff\n"),
        (6, b'{"c":3}', b'{"c":3}'),
    ]


def test_bom_only_stripped_from_first_raw() -> None:
    data = BOM + b'{"a":1}\n' + BOM + b"{}\n"
    records = flatten(read_bytes(data, block_size=2))
    assert records[0] == (1, b'{"a":1}', BOM + b'{"a":1}\n')
    assert records[1] == (2, BOM + b"{}", BOM + b"{}\n")


def test_line_split_across_many_blocks() -> None:
    long = b'{"k":"' + b"x" * 5000 + b'"}'
    records = flatten(read_bytes(long + b"\n" + long, batch_size=10, block_size=64))
    assert records == [(1, long, long + b"\n"), (2, long, long)]


def test_empty_and_blank_only_inputs_yield_nothing() -> None:
    assert read_bytes(b"") == []
    assert read_bytes(b"\n\n \r\n\t") == []


def test_read_batches_from_file_default_sizes(make_file) -> None:
    lines = [b'{"i":%d}' % i for i in range(25)]
    path = make_file(b"\n".join(lines) + b"\n")
    batches = list(read_batches(path, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    assert batches[0].uri == str(path)
    assert [r for b in batches for r in b.raws] == lines
    assert [n for b in batches for n in b.lines] == list(range(1, 26))


class CountingStream(io.RawIOBase):
    """A readable stream that counts the bytes handed out."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.inner.read(size)
        self.consumed += len(chunk)
        return chunk


def test_batches_are_read_lazily_in_constant_memory() -> None:
    line = b'{"id":1,"name":"someone"}\n'
    data = line * 20_000
    stream = CountingStream(data)
    batches = iter_jsonl(stream, "mem", batch_size=100, block_size=4096)  # type: ignore[arg-type]
    first = next(batches)
    assert len(first) == 100
    # only what the first batch needed has been read, not the 500 kB file
    assert stream.consumed <= 100 * len(line) + 2 * 4096
    rest = sum(1 for _ in batches)
    assert rest == 199
    assert stream.consumed == len(data)


def test_stdin_is_read_as_binary_and_pyarrow_not_imported(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from dataquarantine.io.readers import read_batches\n"
        "from dataquarantine.io.sinks import open_valid_sink\n"
        "sink = open_valid_sink(sys.argv[1], 'jsonl')\n"
        "n = 0\n"
        "for b in read_batches('-', batch_size=2):\n"
        "    n += len(b)\n"
        "    sink.write(b, range(len(b)))\n"
        "sink.close()\n"
        "assert 'pyarrow' not in sys.modules, 'pyarrow imported for JSONL'\n"
        "print(n)\n"
    )
    out = tmp_path / "valid.jsonl"
    data = b'{"a":1}\r\n\xff\xfe\n\n{"b":2}'
    proc = subprocess.run(
        [sys.executable, "-c", script, str(out)], input=data, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.strip() == b"3"
    assert out.read_bytes() == b'{"a":1}\r\n\xff\xfe\n{"b":2}'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jsonl", "jsonl"),
        ("a.NDJSON", "jsonl"),
        ("dir.v1/a.json", "jsonl"),
        ("a.csv", "csv"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
        ("-", "jsonl"),
    ],
)
def test_detect_format_from_extension(name: str, expected: str) -> None:
    assert detect_format(name) == expected


def test_detect_format_override_and_errors() -> None:
    assert detect_format("data.txt", "csv") == "csv"
    assert detect_format("data.csv", "NDJSON") == "jsonl"
    with pytest.raises(ConfigError, match="extension"):
        detect_format("data.txt")
    with pytest.raises(ConfigError, match="unknown input format"):
        detect_format("data.csv", "xml")


def test_read_batches_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="batch_size"):
        read_batches(tmp_path / "a.jsonl", batch_size=0)
    with pytest.raises(ConfigError, match="standard input"):
        read_batches("-", fmt="parquet")
    with pytest.raises(ConfigError, match="does not exist"):
        read_batches(tmp_path / "missing.jsonl")  # checked at once, before any iteration
    with pytest.raises(ConfigError, match="is a directory"):
        read_batches(tmp_path, fmt="jsonl")


def test_a_line_longer_than_many_blocks_is_joined_once() -> None:
    import io
    import tracemalloc

    from dataquarantine.io.readers import iter_jsonl

    line = b'{"data":"' + b"a" * (8 << 20) + b'"}'
    stream = io.BytesIO(line + b"\n")
    tracemalloc.start()
    try:
        batches = list(iter_jsonl(stream, "big.jsonl", block_size=1 << 16))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [b.raws for b in batches] == [[line]]
    assert [b.originals for b in batches] == [[line + b"\n"]]
    # the line and its original (with the terminator); never a third copy (was 3x)
    assert peak < 2.2 * len(line)
