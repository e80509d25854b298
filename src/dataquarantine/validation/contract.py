"""The compiled contract: decode -> structural schema (one of the kinds) -> CEL business rules.

:class:`Contract` is the public entry point of the validation engine::

    from dataquarantine import Contract

    contract = Contract.from_file("contracts/user_event.yaml")
    result = contract.validate(b'{"user_id": "USER123456\\n"}')
    result.valid, [v.to_dict() for v in result.errors]

``bytes`` are raw input to decode (JSON, or Avro for avro contracts); any other value is an
already-decoded JSON value. Violations are collected up to
:data:`~dataquarantine.kernel.results.MAX_VIOLATIONS` per record, then counted in one summary
violation; bad data never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dataquarantine.contracts.loader import load_spec, resolve_schema, spec_from_dict
from dataquarantine.contracts.model import ContractSpec
from dataquarantine.errors import ContractError, SchemaCompileError
from dataquarantine.kernel.results import (
    BatchResult,
    ContractRef,
    ErrorCode,
    Severity,
    ValidationResult,
    Violation,
    ViolationSink,
)
from dataquarantine.validation import avro_kind, jsonschema_kind, model_kind
from dataquarantine.validation.base import (
    KINDS,
    CompileOptions,
    DecodeFailure,
    Retriever,
    SchemaValidator,
)
from dataquarantine.validation.coercion import TextCoercer, column_types_of, text_coercer_for
from dataquarantine.validation.compiled import system_error
from dataquarantine.validation.limits import MAX_FANOUT, TOO_DEEP
from dataquarantine.validation.parsing import nests_deeper_than
from dataquarantine.validation.rules import RuleSet

__all__ = ["TOO_DEEP", "Contract", "kind_of", "system_error"]

# The kind modules register themselves in KINDS on import.
_KIND_MODULES = (avro_kind, jsonschema_kind, model_kind)
_BYTES = (bytes, bytearray, memoryview)


def kind_of(spec: ContractSpec) -> str:
    """Which validator kind compiles this contract."""
    if spec.model is not None:
        return "model"
    return "avro" if spec.format == "avro" else "json_schema"


def _avro_column_types(schema: Any) -> dict[str, str]:
    names = {"int": "integer", "long": "integer", "float": "number", "double": "number"}
    names |= {"boolean": "boolean", "string": "string"}
    out: dict[str, str] = {}
    if isinstance(schema, Mapping) and isinstance(schema.get("fields"), list):
        for f in schema["fields"]:
            typ = f.get("type") if isinstance(f, Mapping) else None
            branches = typ if isinstance(typ, list) else [typ]
            scalar = [names[t] for t in branches if isinstance(t, str) and t in names]
            if scalar:
                out[str(f["name"])] = scalar[0]
    return out


class Contract:
    """A data contract compiled for validation. Build with :meth:`from_file` or
    :meth:`from_dict`; a bad contract raises :class:`~dataquarantine.errors.ContractError`."""

    __slots__ = (
        "_decode",
        "_is_valid",
        "_rules",
        "_schema_doc",
        "_text_coercer",
        "_validator",
        "kind",
        "ref",
        "spec",
    )

    def __init__(
        self,
        spec: ContractSpec,
        *,
        schema: Any = None,
        retriever: Retriever | None = None,
        max_fanout: int | None = MAX_FANOUT,
    ) -> None:
        """``max_fanout``: most subschema applications the schema may make on one value of a
        record (:mod:`~dataquarantine.validation.schema_cost`); a costlier schema raises
        :class:`~dataquarantine.errors.SchemaCompileError`. ``None`` skips that check (for
        trusted schemas only: records are still validated within bounded memory)."""
        self.spec = spec
        self.ref: ContractRef = spec.ref
        self.kind = kind_of(spec)
        doc = schema if schema is not None else resolve_schema(spec)
        self._schema_doc = doc
        options = CompileOptions(
            schema=doc, base_dir=spec.base_dir, retriever=retriever, max_fanout=max_fanout
        )
        try:
            validator: SchemaValidator = KINDS[self.kind](spec, options)
        except ContractError:
            raise
        except Exception as exc:  # a kind that failed to translate its own error
            raise SchemaCompileError(
                f"schema does not compile: {exc}", source=spec.source_path
            ) from exc
        self._validator = validator
        self._decode = validator.decode
        self._is_valid = validator.is_valid
        source = str(spec.source_path) if spec.source_path else None
        self._rules: RuleSet | None = (
            RuleSet.compile(spec.rules, source=source) if spec.rules else None
        )
        self._text_coercer: TextCoercer | bool | None = False  # False: not computed yet

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: Path | str, *, retriever: Retriever | None = None) -> Contract:
        """Load and compile one YAML contract file."""
        return cls(load_spec(path), retriever=retriever)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        base_dir: Path | str | None = None,
        retriever: Retriever | None = None,
    ) -> Contract:
        """Compile a contract given as a mapping (same fields as the YAML).

        ``base_dir`` is where ``schema_file`` and relative ``$ref`` are resolved."""
        source = Path(base_dir).resolve() / "<dict>" if base_dir is not None else None
        return cls(spec_from_dict(data, source=source), retriever=retriever)

    # -- properties ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.ref.version

    @property
    def schema(self) -> Any:
        """The resolved schema document (JSON Schema, Avro schema, or ``None`` for models)."""
        return self._schema_doc

    @property
    def rules(self) -> RuleSet | None:
        return self._rules

    @property
    def is_valid_fn(self) -> Callable[[Any], bool]:
        """The structural yes/no check (hot path)."""
        return self._is_valid

    @property
    def rules_check(self) -> Callable[[Any], Any] | None:
        """Hot-path rule check: falsy when every rule holds (``None`` when there are none)."""
        return self._rules.hot_check if self._rules is not None else None

    def column_types(self) -> dict[str, str]:
        """Top-level field -> JSON scalar type name, for typing text input and Parquet output."""
        if self.kind == "avro":
            return _avro_column_types(self._schema_doc)
        return column_types_of(self._json_schema())

    def _json_schema(self) -> Any:
        if self.kind == "model":
            as_json = getattr(self._validator, "json_schema", None)
            return as_json() if callable(as_json) else None
        return self._schema_doc

    def text_coercer(self) -> TextCoercer | None:
        """Function typing a text row (CSV cells) by this contract's schema, or ``None``."""
        if self._text_coercer is False:
            if self.kind == "avro":
                types = _avro_column_types(self._schema_doc)
                doc: Any = {"properties": {k: {"type": v} for k, v in types.items()}}
            else:
                doc = self._json_schema()
            self._text_coercer = text_coercer_for(doc)
        coercer = self._text_coercer
        return coercer if callable(coercer) else None

    # -- validation ---------------------------------------------------------------------------

    def decode(self, raw: bytes) -> Any:
        """Decode raw bytes; raises :class:`DecodeFailure` (internal) when they are bad."""
        return self._decode(raw)

    def check(self, value: Any, *, schema_valid: bool | None = None) -> ValidationResult:
        """Every violation of an already-decoded value (structure first, then rules).

        ``schema_valid``: what ``is_valid_fn`` already answered for this value, if it was
        asked (the batch loops), so that it is not asked twice."""
        sink = ViolationSink()
        try:
            schema_ok = self._is_valid(value) if schema_valid is None else schema_valid
            if not schema_ok:
                self._validator.collect(value, sink)
            warnings: list[Violation] = []
            if self._rules is not None:
                for v in self._rules.evaluate(value, schema_valid=schema_ok):
                    (warnings if v.severity is Severity.WARN else sink).append(v)
        except Exception as exc:  # the engine must never crash on a record (MemoryError too)
            return ValidationResult(False, (system_error(exc),), (), value, self.ref)
        if not schema_ok and not len(sink):
            sink.append(
                Violation(ErrorCode.SCHEMA_VIOLATION, "", "record does not match the schema")
            )
        errors = tuple(sink.listed())
        return ValidationResult(
            not errors, errors, tuple(warnings), value, self.ref, truncated=sink.dropped
        )

    def parse_error(self, failure: DecodeFailure) -> ValidationResult:
        violation = Violation(ErrorCode.PARSE_ERROR, failure.path, failure.message)
        return ValidationResult(False, (violation,), (), None, self.ref)

    def validate(self, record: Any) -> ValidationResult:
        """Validate one record: ``bytes`` are decoded first, anything else is a decoded value."""
        if isinstance(record, _BYTES):
            try:
                record = self._decode(bytes(record))
            except DecodeFailure as failure:
                return self.parse_error(failure)
            except Exception as exc:
                return ValidationResult(False, (system_error(exc),), (), None, self.ref)
        elif nests_deeper_than(record):
            return self.parse_error(DecodeFailure(TOO_DEEP))
        return self.check(record)

    def validate_batch(self, records: Iterable[Any]) -> BatchResult:
        """Validate many records at once; valid ones cost no per-record result object."""
        from dataquarantine.validation.engine import validate_forced

        items = records if isinstance(records, Sequence) else list(records)
        return validate_forced(self, items)

    def __repr__(self) -> str:
        return f"Contract({self.ref}, kind={self.kind})"
