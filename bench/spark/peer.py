"""The peer: Databricks DQX (``DQEngineCore.apply_checks_and_split``) on local Spark, with the
checks of user_event 1.1.0 as far as DQX expresses them.

DQX needs no Databricks workspace for this (its ``WorkspaceClient`` argument is only used for
telemetry and storage: a mock is given). The checks are Spark SQL expressions: Java regular
expressions (so ``$`` also matches before a final newline), no RFC 3339 or e-mail format
checkers (patterns instead), JSON lines parsed by Spark's reader with an explicit schema (a
broken line is a ``_corrupt_record``; a number where a string is expected is read as text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

REQUIRED = ("event_id", "user_id", "event_type", "timestamp", "session_id")
EVENT_TYPES = "'click', 'view', 'purchase', 'signup', 'logout'"
CURRENCIES = "'USD', 'EUR', 'GBP', 'JPY', 'CAD', 'AUD', 'CHF', 'SEK'"
UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
RFC3339 = r"^\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})$"
URI = "^[A-Za-z][A-Za-z0-9+.-]*:[^ ]*$"
EMAIL = "^[^@ ]+@[^@ ]+$"

#: (name, a Spark SQL condition that valid rows meet; null counts as met, as in DQX)
EXPRESSIONS = (
    ("user_id_pattern", "user_id RLIKE '^USER[0-9]{6}$'"),
    ("event_id_uuid", f"event_id RLIKE '{UUID}'"),
    ("event_type_enum", f"event_type IN ({EVENT_TYPES})"),
    ("timestamp_rfc3339", f"timestamp RLIKE '{RFC3339}'"),
    ("session_id_length", "length(session_id) BETWEEN 1 AND 64"),
    ("page_url_uri", f"page_url RLIKE '{URI}'"),
    ("referrer_uri", f"referrer RLIKE '{URI}'"),
    ("product_id_pattern", "product_id RLIKE '^PROD[0-9]{1,6}$'"),
    ("amount_minimum", "amount >= 0"),
    ("currency_length", "length(currency) = 3"),
    ("email_format", f"email RLIKE '{EMAIL}'"),
    ("device_type_enum", "device IS NULL OR device.type IN ('mobile', 'desktop', 'tablet')"),
    ("no_ip_address", "ip_address IS NULL"),
    ("purchase_needs_product", "event_type != 'purchase' OR product_id IS NOT NULL"),
    (
        "purchase_priced",
        "event_type != 'purchase' OR (amount IS NOT NULL AND amount > 0 AND currency IS NOT NULL)",
    ),
    ("currency_supported", f"currency IS NULL OR currency IN ({CURRENCIES})"),
)

SPARK_SCHEMA = (
    "_schema string, event_id string, user_id string, event_type string, timestamp string, "
    "session_id string, page_url string, product_id string, amount double, currency string, "
    "email string, device struct<type: string, os: string>, properties struct<button: string, "
    "position: bigint, search_query: string, results: bigint, experiment: string, arm: string, "
    "campaign: string, medium: string, tab: string, filters: array<string>, sort: string>, "
    "referrer string, ip_address string"
)


def checks(jsonl: bool) -> list[Any]:
    from databricks.labs.dqx import check_funcs as cf
    from databricks.labs.dqx.rule import DQRowRule

    rules = [DQRowRule(criticality="error", check_func=cf.is_not_null, column=c) for c in REQUIRED]
    expressions = [*EXPRESSIONS, *([("parsed", "_corrupt_record IS NULL")] if jsonl else [])]
    for name, expression in expressions:
        kwargs = {"expression": expression, "msg": name}
        rules.append(
            DQRowRule(
                name=name,
                criticality="error",
                check_func=cf.sql_expression,
                check_func_kwargs=kwargs,
            )
        )
    return rules


def run_peer(spark: Any, fmt: str, path: Path, out: Path) -> dict[str, Any]:
    from unittest.mock import MagicMock

    from databricks.labs.dqx.engine import DQEngineCore
    from pyspark.sql import functions as F

    if fmt == "parquet":
        df = spark.read.parquet(str(path))
        key = F.col("event_id")
    else:
        schema = SPARK_SCHEMA + ", _corrupt_record string"
        df = spark.read.schema(schema).option("mode", "PERMISSIVE").json(str(path))
        found = F.regexp_extract("_corrupt_record", '"event_id": ?"([^"]+)"', 1)
        key = F.coalesce(F.col("event_id"), F.when(found != "", found))
    engine = DQEngineCore(workspace_client=MagicMock(), spark=spark)
    good, bad = engine.apply_checks_and_split(df, checks(fmt == "jsonl"))[:2]
    good.write.parquet(str(out / "valid"))
    bad.select("*", key.alias("_dq_key")).write.parquet(str(out / "quarantine"))
    return {}
