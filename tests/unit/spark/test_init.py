"""dataquarantine.spark needs the ``spark`` extra: without it, importing the package raises
MissingExtraError naming the extra (exit code 2 on the command line), never an ImportError."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """\
import sys
sys.modules[{module!r}] = None
from dataquarantine.errors import MissingExtraError
try:
    import dataquarantine.spark
except MissingExtraError as exc:
    print(exc)
"""


@pytest.mark.parametrize("module", ["pyspark", "pandas"])
def test_the_package_needs_the_spark_extra(module: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CODE.format(module=module)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.strip() == (
        "dataquarantine.spark needs the 'spark' extra: pip install 'dataquarantine[spark]'"
    )
