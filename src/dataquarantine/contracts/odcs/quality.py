"""ODCS ``quality`` entries to CEL rules (what one record can show) and gates (what only the
whole set can show: thresholds, duplicates, row counts, SQL).

A ``library`` metric whose threshold allows no bad record at all (``mustBe: 0``,
``mustBeLessThan: 1`` or ``mustBeLessOrEqualTo: 0``, in rows) is a per-record rule: the
record that breaks it is quarantined. Any other threshold is a gate over the table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from dataquarantine.contracts.odcs.common import (
    CUSTOM_ENGINE,
    FIELD_PROPERTY,
    Unmapped,
    cel_access,
    cel_literal,
)

__all__ = ["QualityMapper"]

Warn = Callable[[Unmapped], None]

_OPERATORS: Final = {
    "mustBe": "=",
    "mustNotBe": "<>",
    "mustBeGreaterThan": ">",
    "mustBeGreaterOrEqualTo": ">=",
    "mustBeLessThan": "<",
    "mustBeLessOrEqualTo": "<=",
}
_RANGES: Final = ("mustBeBetween", "mustNotBeBetween")
_COLUMN: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9_.-]+")
_PLACEHOLDER: Final = re.compile(r"\$?\{(object|table|property|column)\}")
_SEVERE: Final = frozenset({"error", "critical", "fatal", "high"})


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _condition(check: Mapping[str, Any]) -> tuple[str, Any] | None:
    """``(operator, operand)`` of the check's one operator, or None when it has none."""
    for key, op in _OPERATORS.items():
        if key in check:
            return op, check[key]
    for key in _RANGES:
        bounds = check.get(key)
        if isinstance(bounds, list) and len(bounds) == 2:
            return key, bounds
    return None


def _sql_test(value: str, cond: tuple[str, Any]) -> str:
    """SQL true when ``value`` meets ``cond`` (``mustBeBetween`` is exclusive, as the ODCS
    reference says: ``mustBeGreaterThan`` and ``mustBeLessThan``)."""
    op, operand = cond
    if op == "mustBeBetween":
        lo, hi = operand
        return f"{value} > {_sql_literal(lo)} AND {value} < {_sql_literal(hi)}"
    if op == "mustNotBeBetween":
        lo, hi = operand
        return f"({value} <= {_sql_literal(lo)} OR {value} >= {_sql_literal(hi)})"
    return f"{value} {op} {_sql_literal(operand)}"


def _zero_allowed(check: Mapping[str, Any]) -> bool:
    """True when the threshold allows no bad record (so each record can be judged alone)."""
    if check.get("unit") not in (None, "rows"):
        return check.get("mustBe") == 0 or check.get("mustBeLessOrEqualTo") == 0
    less = check.get("mustBeLessThan")
    return (
        check.get("mustBe") == 0
        or check.get("mustBeLessOrEqualTo") == 0
        or (isinstance(less, int | float) and not isinstance(less, bool) and 0 < less <= 1)
    )


@dataclass
class QualityMapper:
    """Collects the rules and gates of one schema object."""

    contract: str
    table: str | None
    warn: Warn
    rules: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    _names: set[str] = field(default_factory=set)

    def _name(self, *parts: str) -> str:
        base = _NAME_CHARS.sub("_", ".".join(p for p in parts if p))[:120] or "check"
        name, n = base, 1
        while name in self._names:
            n += 1
            name = f"{base}.{n}"
        self._names.add(name)
        return name

    def _rule(self, check: Mapping[str, Any], rid: str, expr: str, prop: str | None) -> None:
        rule: dict[str, Any] = {"id": self._name(rid), "expr": expr}
        if check.get("description"):
            rule["message"] = str(check["description"]).strip()
        if str(check.get("severity", "error")).lower() not in _SEVERE:
            rule["severity"] = "warn"
        if prop is not None:
            rule["field"] = prop
        self.rules.append(rule)

    def _gate(self, check: Mapping[str, Any], name: str, body: dict[str, Any]) -> None:
        gate: dict[str, Any] = {"name": self._name(self.contract, name), **body}
        if check.get("description"):
            gate["description"] = str(check["description"]).strip()
        if str(check.get("severity", "error")).lower() not in _SEVERE:
            gate["severity"] = "informational"
        self.gates.append(gate)

    def _table(self, path: str) -> str | None:
        if self.table is None:
            self.warn(Unmapped(path, "a gate needs a plain SQL table name (physicalName)"))
        return self.table

    def map(self, check: Any, path: str, prop: str | None, column: str | None) -> None:
        """Map one quality entry of the property ``prop`` (None: of the schema object)."""
        if not isinstance(check, Mapping):
            self.warn(Unmapped(path, "a quality entry is not a mapping"))
            return
        kind = check.get("type", "library" if "metric" in check or "rule" in check else None)
        if kind == "library":
            self._library(check, path, prop, column)
        elif kind == "sql":
            self._sql(check, path, column)
        elif kind == "custom":
            self._custom(check, path, prop)
        elif kind == "text":
            self.warn(Unmapped(path, "a text quality entry is documentation, not a check"))
        else:
            self.warn(Unmapped(path, f"unknown quality type {kind!r}"))

    def _custom(self, check: Mapping[str, Any], path: str, prop: str | None) -> None:
        engine = check.get("engine")
        impl = check.get("implementation")
        if engine != CUSTOM_ENGINE:
            self.warn(
                Unmapped(
                    path, f"custom rule of engine {engine!r} (only {CUSTOM_ENGINE!r} runs here)"
                )
            )
            return
        if not isinstance(impl, str) or not impl.strip():
            self.warn(Unmapped(path, "a dataquarantine rule's implementation must be a CEL string"))
            return
        for extra in check.get("customProperties") or ():
            if isinstance(extra, Mapping) and extra.get("property") == FIELD_PROPERTY:
                prop = str(extra.get("value"))
        self._rule(check, str(check.get("name") or check.get("id") or "custom"), impl.strip(), prop)

    def _sql(self, check: Mapping[str, Any], path: str, column: str | None) -> None:
        cond = _condition(check)
        query = check.get("query")
        if cond is None or not isinstance(query, str):
            self.warn(Unmapped(path, "an sql check needs a query and an operator"))
            return
        table = self._table(path)
        if table is None:
            return
        values = {"object": table, "table": table, "property": column, "column": column}
        if any(values[m.group(1)] is None for m in _PLACEHOLDER.finditer(query)):
            self.warn(Unmapped(path, "the query names a column outside a property"))
            return
        text = _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), query).strip().rstrip(";")
        test = _sql_test("value", cond)
        sql = f"SELECT value FROM ({text}) AS odcs_check(value) WHERE NOT ({test})"
        self._gate(
            check, str(check.get("name") or "sql"), {"kind": "sql", "sql": sql, "expect_rows": 0}
        )

    def _library(
        self, check: Mapping[str, Any], path: str, prop: str | None, column: str | None
    ) -> None:
        metric = check.get("metric", check.get("rule"))
        args = check.get("arguments") or {}
        cond = _condition(check)
        if cond is None:
            self.warn(Unmapped(path, f"library metric {metric!r} without an operator"))
            return
        if metric == "rowCount":
            self._row_count(check, path, cond)
            return
        if metric == "duplicateValues":
            self._duplicates(check, path, column, args, cond)
            return
        if prop is None or column is None:
            self.warn(Unmapped(path, f"metric {metric!r} outside a property"))
            return
        record = self._record_expr(str(metric), prop, args)
        if record is None:
            self.warn(Unmapped(path, f"library metric {metric!r} with these arguments"))
            return
        if _zero_allowed(check):
            self._rule(check, f"{prop}.{metric}", record, prop)
            return
        table = self._table(path)
        if table is None:
            return
        bad = self._sql_bad(str(metric), column, args)
        count = f"count(*) FILTER (WHERE {bad})"
        if check.get("unit") == "percent":
            count = f"100.0 * {count} / NULLIF(count(*), 0)"
        sql = f"SELECT {count} AS value FROM {table} HAVING NOT ({_sql_test(count, cond)})"
        self._gate(check, f"{prop}.{metric}", {"kind": "sql", "sql": sql, "expect_rows": 0})

    @staticmethod
    def _record_expr(metric: str, prop: str, args: Mapping[str, Any]) -> str | None:
        """CEL true when the record is good for ``metric``."""
        has, value = cel_access(prop)
        if metric == "nullValues":
            return f"{has} && {value} != null"
        if metric == "missingValues":
            missing = list(args.get("missingValues", [None, ""]))
            return f"{has} && !({value} in {cel_literal(missing)})"
        if metric == "invalidValues" and "validValues" in args:
            valid = list(args["validValues"])
            return f"!{has} || {value} == null || {value} in {cel_literal(valid)}"
        if metric == "invalidValues" and isinstance(args.get("pattern"), str):
            return f"!{has} || {value} == null || {value}.matches({cel_literal(args['pattern'])})"
        return None

    @staticmethod
    def _sql_bad(metric: str, column: str, args: Mapping[str, Any]) -> str:
        if metric == "nullValues":
            return f"{column} IS NULL"
        if metric == "missingValues":
            missing = [v for v in args.get("missingValues", [None, ""]) if v is not None]
            listed = ", ".join(_sql_literal(str(v)) for v in missing)
            return f"{column} IS NULL" + (f" OR {column}::text IN ({listed})" if listed else "")
        if "validValues" in args:
            valid = [v for v in args["validValues"] if v is not None]
            listed = ", ".join(_sql_literal(str(v)) for v in valid) or "NULL"
            return f"{column} IS NOT NULL AND {column}::text NOT IN ({listed})"
        return f"{column} IS NOT NULL AND {column}::text !~ {_sql_literal(args['pattern'])}"

    def _row_count(self, check: Mapping[str, Any], path: str, cond: tuple[str, Any]) -> None:
        table = self._table(path)
        if table is None:
            return
        op, n = cond
        bounds: dict[str, Any] | None = None
        if op == "mustBeBetween" and all(isinstance(b, int) for b in n):
            bounds = {"min": n[0] + 1, "max": n[1] - 1}
        elif isinstance(n, int) and not isinstance(n, bool):
            bounds = {
                "=": {"min": n, "max": n},
                ">": {"min": n + 1},
                ">=": {"min": n},
                "<": {"max": max(n - 1, 0)},
                "<=": {"max": n},
            }.get(op)
        if bounds is not None and min(bounds.values()) >= 0:
            self._gate(check, "rowCount", {"kind": "row_count", "table": table, **bounds})
            return
        sql = f"SELECT count(*) AS value FROM {table} HAVING NOT ({_sql_test('count(*)', cond)})"
        self._gate(check, "rowCount", {"kind": "sql", "sql": sql, "expect_rows": 0})

    def _duplicates(
        self,
        check: Mapping[str, Any],
        path: str,
        column: str | None,
        args: Mapping[str, Any],
        cond: tuple[str, Any],
    ) -> None:
        table = self._table(path)
        if table is None:
            return
        columns = [column] if column else [str(c) for c in args.get("properties") or ()]
        if not columns or not all(_COLUMN.match(c) for c in columns):
            self.warn(Unmapped(path, "duplicateValues needs plain column names"))
            return
        if _zero_allowed(check):
            self._gate(
                check,
                f"{'_'.join(columns)}.unique",
                {"kind": "unique", "table": table, "columns": columns},
            )
            return
        key = columns[0] if len(columns) == 1 else "(" + ", ".join(columns) + ")"
        counted = columns[0] if len(columns) == 1 else "*"  # NULLs never collide
        dupes = f"count({counted}) - count(DISTINCT {key})"
        if check.get("unit") == "percent":
            dupes = f"100.0 * ({dupes}) / NULLIF(count(*), 0)"
        sql = f"SELECT {dupes} AS value FROM {table} HAVING NOT ({_sql_test(dupes, cond)})"
        self._gate(
            check,
            f"{'_'.join(columns)}.duplicateValues",
            {"kind": "sql", "sql": sql, "expect_rows": 0},
        )

    def unique(self, columns: list[str], what: str) -> None:
        """``unique: true`` of a column or the ``primaryKey`` columns: a unique gate."""
        if self.table is None:
            return
        body = {"kind": "unique", "table": self.table, "columns": columns}
        self._gate({}, f"{'_'.join(columns)}.{what}", body)
