"""File inputs and valid-record outputs: streaming JSONL/CSV/Parquet readers and sinks.

pyarrow is imported only when a CSV or Parquet file is read or a Parquet sink is opened.
"""

from __future__ import annotations

from dataquarantine.io.readers import detect_format, read_batches
from dataquarantine.io.records import INPUT_FORMATS, InputFormat, RecordBatch
from dataquarantine.io.sinks import ValidSink, open_valid_sink

__all__ = [
    "INPUT_FORMATS",
    "InputFormat",
    "RecordBatch",
    "ValidSink",
    "detect_format",
    "open_valid_sink",
    "read_batches",
]
