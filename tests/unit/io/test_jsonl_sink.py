from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataquarantine.errors import ConfigError
from dataquarantine.io.readers import iter_jsonl, read_batches
from dataquarantine.io.sinks import JsonlValidSink, open_valid_sink

line_bytes = st.binary(max_size=16).map(lambda b: b.replace(b"\n", b""))


@st.composite
def files_and_choices(draw: st.DrawFn) -> tuple[bytes, list[bool]]:
    lines = draw(st.lists(line_bytes, min_size=1, max_size=25))
    terms = draw(
        st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(lines), max_size=len(lines))
    )
    data = b"".join(line + term for line, term in zip(lines, terms, strict=True))
    if draw(st.booleans()):
        data = data[: -len(terms[-1])]
    keep = draw(st.lists(st.booleans(), min_size=len(lines), max_size=len(lines)))
    return data, keep


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=files_and_choices(), batch_size=st.integers(1, 4), block_size=st.integers(1, 30))
def test_valid_lines_are_written_byte_for_byte(
    tmp_path: Path, case: tuple[bytes, list[bool]], batch_size: int, block_size: int
) -> None:
    data, keep = case
    out = tmp_path / "valid.jsonl"
    expected = b""
    chosen = 0
    with open_valid_sink(out, "jsonl") as sink:
        for batch in iter_jsonl(
            io.BytesIO(data), "mem", batch_size=batch_size, block_size=block_size
        ):
            assert batch.originals is not None
            valid = [i for i, n in enumerate(batch.lines) if keep[n - 1]]
            sink.write(batch, valid)
            for i in valid:
                expected += batch.originals[i]
                chosen += 1
    assert out.read_bytes() == expected
    everything_valid = all(keep) and chosen == len(data.split(b"\n")) - data.endswith(b"\n")
    if everything_valid:
        assert out.read_bytes() == data


def test_all_valid_file_is_copied_exactly(make_file, tmp_path: Path) -> None:
    data = b'{"a":1}\r\n{"b":"\xc3\xa9"}\n{"c":3}'
    out = tmp_path / "out.jsonl"
    sink = open_valid_sink(out, "jsonl")
    for batch in read_batches(make_file(data), batch_size=2):
        sink.write(batch, range(len(batch)))
    sink.close()
    assert out.read_bytes() == data


def test_unterminated_last_line_gets_a_newline_only_when_more_follows(
    make_file, tmp_path: Path
) -> None:
    first = make_file(b'{"a":1}\n{"b":2}')
    second = make_file(b'{"c":3}\n{"d":4}')
    out = tmp_path / "out.jsonl"
    with open_valid_sink(out, "jsonl") as sink:
        for path in (first, second):
            for batch in read_batches(path):
                sink.write(batch, range(len(batch)))
    assert out.read_bytes() == b'{"a":1}\n{"b":2}\n{"c":3}\n{"d":4}'


def test_only_valid_rows_in_order(make_file, tmp_path: Path) -> None:
    path = make_file(b"".join(b'{"i":%d}\n' % i for i in range(10)))
    out = tmp_path / "out.jsonl"
    with open_valid_sink(out, "jsonl") as sink:
        for batch in read_batches(path, batch_size=4):
            sink.write(batch, [i for i, n in enumerate(batch.lines) if n % 3 == 0])
            sink.write(batch, [])
    assert out.read_bytes() == b'{"i":2}\n{"i":5}\n{"i":8}\n'


def test_temporary_file_then_rename(make_file, tmp_path: Path) -> None:
    out = tmp_path / "valid.jsonl"
    out.write_bytes(b"previous run\n")
    sink = open_valid_sink(out, "jsonl")
    (batch,) = list(read_batches(make_file(b"{}\n")))
    sink.write(batch, [0])
    # until close, the target keeps its old content and the data sits in a hidden temp file
    assert out.read_bytes() == b"previous run\n"
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".valid.jsonl.")]
    assert len(temps) == 1
    sink.close()
    sink.close()  # idempotent
    assert out.read_bytes() == b"{}\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".valid.jsonl.")]


def test_abort_and_exception_leave_target_untouched(make_file, tmp_path: Path) -> None:
    out = tmp_path / "valid.jsonl"
    (batch,) = list(read_batches(make_file(b"{}\n")))
    with pytest.raises(RuntimeError), open_valid_sink(out, "jsonl") as sink:
        sink.write(batch, [0])
        raise RuntimeError("boom")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    sink = open_valid_sink(out, "jsonl")
    sink.abort()
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_empty_run_writes_an_empty_file(tmp_path: Path) -> None:
    out = tmp_path / "valid.jsonl"
    open_valid_sink(out, "jsonl").close()
    assert out.read_bytes() == b""


def test_permissions_follow_umask_not_mkstemp(tmp_path: Path) -> None:
    out = tmp_path / "valid.jsonl"
    open_valid_sink(out, "jsonl").close()
    assert out.stat().st_mode & 0o044  # readable by others under a usual umask


def test_usage_errors(make_parquet, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="written as JSONL"):
        open_valid_sink(tmp_path / "valid.parquet", "jsonl")
    with pytest.raises(ConfigError, match="cannot write"):
        open_valid_sink(tmp_path / "missing-dir" / "valid.jsonl", "jsonl")
    sink = JsonlValidSink(tmp_path / "v.jsonl")
    (batch,) = list(read_batches(make_parquet({"a": [1]})))
    with pytest.raises(ConfigError, match="needs JSONL input"):
        sink.write(batch, [0])
    sink.close()
    with pytest.raises(ConfigError, match="closed"):
        sink.write(batch, [0])


@pytest.mark.parametrize(
    "files",
    [
        [b'{"a":1}\n', b'{"b":2}'],
        [b'{"a":1}', b'{"b":2}\n', b"", b'{"c":3}'],
        [b"", b'{"a":1}\r\n{"b":2}\n', b'{"c":3}'],
    ],
)
def test_appended_parts_are_what_one_sink_writes(tmp_path: Path, files: list[bytes]) -> None:
    """Each input through its own sink (a worker's part), the parts appended into one sink:
    the bytes one sink writes for all the inputs, line ends added between inputs alike."""
    whole = JsonlValidSink(tmp_path / "whole.jsonl")
    joined = JsonlValidSink(tmp_path / "joined.jsonl")
    for i, data in enumerate(files):
        src = tmp_path / f"in{i}.jsonl"
        src.write_bytes(data)
        part = JsonlValidSink(tmp_path / f"part{i}.jsonl")
        for batch in read_batches(src):
            whole.write(batch, range(len(batch)))
            part.write(batch, range(len(batch)))
        part.close()
        joined.append_file(tmp_path / f"part{i}.jsonl")
    whole.close()
    joined.close()
    assert (tmp_path / "joined.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()
