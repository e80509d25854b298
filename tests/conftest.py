from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.postgres",
    "tests.fixtures.s3",
    "tests.fixtures.kafka",
    "tests.fixtures.prometheus",
    "tests.fixtures.spark",
    "tests.fixtures.lineage",
]
