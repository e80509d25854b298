"""The ``json_schema`` validator kind, built on jsonschema-rs.

Choices, all made once at compile time so the per-record path stays a single native call:

* **Draft** from ``$schema``: draft-04, -06, -07, 2019-09 and 2020-12 (``http``/``https`` and a
  trailing ``#`` are accepted); 2020-12 when ``$schema`` is absent. Any other ``$schema`` is a
  custom meta-schema and must be obtainable like a ``$ref`` (below); otherwise it is unknown and
  the contract does not compile.
* The schema is checked against its meta-schema, so ``{"type": "strin"}`` or
  ``{"minimum": "x"}`` fail at load time with :class:`~dataquarantine.errors.SchemaCompileError`,
  never silently at validation time.
* **Formats are asserted** in every draft (``"2024-01-01"`` is not a ``date-time``).
  An **unknown format name fails the compile**, naming the format: with assertion on, a typo
  such as ``date_time`` would otherwise silently accept everything. Formats of later drafts
  (``uuid``, ``duration``) are unknown to draft-07 and earlier; the error says so.
* Regular expressions follow ECMA-262 (``$`` does not match before a trailing newline).
* **``$ref`` never touches the network.** Relative references resolve against the schema's own
  location: the ``schema_file`` when there is one, else the contract's folder; local files are
  read (JSON, or YAML for ``.yaml``/``.yml``) only when they lie inside the contract's folder.
  Any other URI (``http(s)``, ``urn``, ...) is handed to the caller's ``retriever`` when one is
  given, else it is refused. A schema with an absolute ``$id`` resolves its relative references
  against that ``$id``, so they are non-local too.
* Violations: one per problem, with an RFC 6901 pointer. A missing ``required`` (or
  ``dependentRequired``/``dependencies``) property points at the property that should be there;
  ``additionalProperties``/``unevaluatedProperties`` and ``additionalItems`` give one violation
  per unexpected member, pointing at it (``unevaluatedItems`` gives one, at the array: the
  library reports the items' values, not their indexes). Long messages are shortened in the
  middle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, final
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jsonschema_rs
import yaml

from dataquarantine.contracts.loader import inside_folder
from dataquarantine.errors import SchemaCompileError
from dataquarantine.kernel import pointers
from dataquarantine.kernel.results import ErrorCode, Violation, ViolationSink
from dataquarantine.safe_yaml import read_yaml
from dataquarantine.validation.base import (
    CompileOptions,
    Retriever,
    SchemaValidator,
    register_kind,
)
from dataquarantine.validation.parsing import (
    MAX_DEPTH,
    encoded_size,
    nests_deeper_than,
    parse_json,
)
from dataquarantine.validation.schema_cost import UNBOUNDED, fanout

if TYPE_CHECKING:
    from dataquarantine.contracts.model import ContractSpec

__all__ = [
    "MAX_ENUMERATED",
    "Draft",
    "JsonSchemaValidator",
    "compile_json_schema",
]

Draft = Literal["draft4", "draft6", "draft7", "draft2019-09", "draft2020-12"]

_Kind = jsonschema_rs.ValidationErrorKind
_ValidatorClass = type[jsonschema_rs.Validator]

_DRAFTS: Final[dict[str, tuple[Draft, _ValidatorClass]]] = {
    "json-schema.org/draft-04/schema": ("draft4", jsonschema_rs.Draft4Validator),
    "json-schema.org/draft-06/schema": ("draft6", jsonschema_rs.Draft6Validator),
    "json-schema.org/draft-07/schema": ("draft7", jsonschema_rs.Draft7Validator),
    "json-schema.org/draft/2019-09/schema": ("draft2019-09", jsonschema_rs.Draft201909Validator),
    "json-schema.org/draft/2020-12/schema": ("draft2020-12", jsonschema_rs.Draft202012Validator),
}
_DEFAULT: Final = _DRAFTS["json-schema.org/draft/2020-12/schema"]

MAX_MESSAGE: Final = 300
#: Most subschema applications (a record's values times the schema's fan-out) for which every
#: violation of a record is enumerated; beyond, only the first is (see JsonSchemaValidator).
MAX_ENUMERATED: Final = 100_000
_UNKNOWN_FORMAT = re.compile(r"Unknown format: '(.*)'\.")
_YAML_SUFFIXES = (".yaml", ".yml")


def _shorten(message: str) -> str:
    """Cut the middle of a long message: the head and the reason at the end both stay."""
    if len(message) <= MAX_MESSAGE:
        return message
    head = MAX_MESSAGE * 3 // 5
    tail = MAX_MESSAGE - head - 5
    return f"{message[:head]} ... {message[-tail:]}"


# -- $ref and $schema retrieval -------------------------------------------------------------


class _Refused(Exception):  # an internal signal, always translated
    pass


class _OfflineRetriever:
    """Serves ``file:`` URIs inside the contract folder; other URIs go to the caller's
    retriever or are refused. Every refusal is recorded to explain a failed compile."""

    __slots__ = ("failures", "remote", "retrieved", "root")

    def __init__(self, root: Path | None, remote: Retriever | None) -> None:
        self.root = root
        self.remote = remote
        self.failures: list[str] = []
        #: Documents served, by URI: the cost analysis reads them again after the compile.
        self.retrieved: dict[str, Any] = {}

    def __call__(self, uri: str) -> Any:
        if uri in self.retrieved:
            return self.retrieved[uri]
        try:
            document = self.retrieved[uri] = self._retrieve(uri)
        except _Refused as exc:
            self.failures.append(str(exc))
            raise
        return document

    def _retrieve(self, uri: str) -> Any:
        parts = urlsplit(uri)
        if parts.scheme == "file":
            return self._file(uri, parts.netloc, parts.path)
        if parts.scheme == "json-schema":  # jsonschema-rs's placeholder when there is no base
            raise _Refused(
                f"relative $ref {parts.path.lstrip('/')!r} cannot be resolved: "
                "the contract has no folder to resolve it against"
            )
        if self.remote is None:
            raise _Refused(
                f"remote $ref {uri!r} is not fetched; schemas are never fetched from the network "
                "at validation time: save that schema next to the contract and use a relative "
                "$ref, or pass a retriever"
            )
        try:
            return self.remote(uri)
        except Exception as exc:
            raise _Refused(f"the retriever could not provide {uri!r}: {exc}") from exc

    def _file(self, uri: str, host: str, path: str) -> Any:
        if host not in ("", "localhost"):
            raise _Refused(f"$ref {uri!r} names a remote host")
        if self.root is None:
            raise _Refused(f"file $ref {uri!r} needs a contract folder")
        target = inside_folder(self.root, Path(url2pathname(path)))
        if target is None:
            raise _Refused(f"$ref {uri!r} points outside the contract's folder")
        try:
            if target.suffix in _YAML_SUFFIXES:
                return read_yaml(target)
            return json.loads(target.read_text(encoding="utf-8"))
        except OSError as exc:
            raise _Refused(f"$ref {uri!r} cannot be read: {exc.strerror or exc}") from exc
        except (ValueError, yaml.YAMLError) as exc:
            raise _Refused(f"$ref {uri!r} is not a valid JSON/YAML document: {exc}") from exc


def _base_uri(spec: ContractSpec, base_dir: Path | None) -> str | None:
    if base_dir is None:
        return None
    if spec.schema_file is not None:
        return (base_dir / spec.schema_file).resolve().as_uri()
    uri = base_dir.resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


# -- compile ---------------------------------------------------------------------------------


def _compile_error(problem: str, source: Path | None) -> SchemaCompileError:
    return SchemaCompileError(problem, source=source)


def _where(parts: list[str | int]) -> str:
    return pointers.join(parts) or "the root"


def _describe_meta(exc: jsonschema_rs.ValidationError) -> str:
    """A schema-is-invalid message; for ``anyOf``/``oneOf`` the branches' reasons are added."""
    message = exc.message
    kind = exc.kind
    if isinstance(kind, (_Kind.AnyOf, _Kind.OneOfNotValid)):
        reasons = [branch[0].message for branch in kind.context if branch]
        if reasons:
            message += " (" + "; ".join(reasons) + ")"
    return f"invalid JSON Schema at {_where(exc.instance_path)}: {_shorten(message)}"


def _known_draft(uri: str) -> tuple[Draft, _ValidatorClass] | None:
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme not in ("http", "https"):
        return None
    return _DRAFTS.get(rest.removesuffix("#"))


def _draft_of(
    schema: Any, retriever: _OfflineRetriever, source: Path | None
) -> tuple[Draft, _ValidatorClass, jsonschema_rs.Registry | None]:
    """The draft and validator class for ``$schema``, plus a registry for a custom one."""
    if not isinstance(schema, dict) or "$schema" not in schema:
        return (*_DEFAULT, None)
    uri = schema["$schema"]
    if not isinstance(uri, str):
        raise _compile_error(f"$schema must be a URI string, not {uri!r}", source)
    known = _known_draft(uri)
    if known is not None:
        return (*known, None)
    try:
        meta = retriever(uri)
    except _Refused as exc:
        raise _compile_error(
            f"unknown $schema {uri!r}: it is none of draft-04, draft-06, draft-07, 2019-09 or "
            f"2020-12, and it cannot be loaded as a custom meta-schema ({exc})",
            source,
        ) from None
    # A custom meta-schema is written in a known draft, which the schema then follows.
    parent = meta.get("$schema") if isinstance(meta, dict) else None
    draft, cls = (_known_draft(parent) if isinstance(parent, str) else None) or _DEFAULT
    try:
        registry = jsonschema_rs.Registry([(uri, meta)], retriever=retriever)
    except (jsonschema_rs.ReferencingError, ValueError) as exc:
        raise _compile_error(f"custom meta-schema {uri!r} cannot be used: {exc}", source) from exc
    return draft, cls, registry


def _translate_compile(
    exc: Exception, draft: Draft, retriever: _OfflineRetriever, source: Path | None
) -> SchemaCompileError:
    if isinstance(exc, jsonschema_rs.ReferencingError):
        return _compile_error(retriever.failures[-1] if retriever.failures else str(exc), source)
    if not isinstance(exc, jsonschema_rs.ValidationError):
        return _compile_error(f"schema does not compile: {exc}", source)
    kind = exc.kind
    where = _where(exc.instance_path)
    if isinstance(kind, _Kind.Referencing):
        if retriever.failures:
            return _compile_error(retriever.failures[-1], source)
        return _compile_error(f"a $ref cannot be resolved: {exc.message}", source)
    if isinstance(kind, _Kind.Custom) and (m := _UNKNOWN_FORMAT.match(exc.message)):
        return _compile_error(_unknown_format(m.group(1), where, draft), source)
    if isinstance(kind, _Kind.Format) and kind.format == "regex":
        return _compile_error(f"invalid regular expression at {where}: {exc.message}", source)
    return _compile_error(f"invalid JSON Schema at {where}: {_shorten(exc.message)}", source)


def _unknown_format(name: str, where: str, draft: Draft) -> str:
    message = (
        f"unknown format {name!r} at {where}: formats are asserted, and an unknown name is most "
        "likely a typo (use 'pattern' for a custom shape)"
    )
    if draft != "draft2020-12":
        try:
            jsonschema_rs.Draft202012Validator(
                {"format": name}, validate_formats=True, ignore_unknown_formats=False
            )
        except jsonschema_rs.ValidationError:
            return message
        message += f"; {name!r} is a format of a later draft: declare $schema 2020-12 to use it"
    return message


@register_kind("json_schema")
def compile_json_schema(spec: ContractSpec, options: CompileOptions) -> SchemaValidator:
    """Compile a contract's JSON Schema (``options.schema``) into a validator.

    Raises :class:`~dataquarantine.errors.SchemaCompileError` for an invalid schema, an unknown
    ``$schema`` or format, a bad regular expression, or a ``$ref`` that cannot be resolved
    offline.
    """
    source = spec.source_path
    schema = options.schema
    if not isinstance(schema, (dict, bool)):
        raise _compile_error(
            f"a JSON Schema is an object or a boolean, not {type(schema).__name__}", source
        )
    root = options.base_dir.resolve() if options.base_dir is not None else None
    retriever = _OfflineRetriever(root, options.retriever)
    draft, cls, registry = _draft_of(schema, retriever, source)
    try:
        jsonschema_rs.meta.validate(schema, registry=registry)
    except jsonschema_rs.ValidationError as exc:
        raise _compile_error(_describe_meta(exc), source) from exc
    except (jsonschema_rs.ReferencingError, ValueError) as exc:
        raise _translate_compile(exc, draft, retriever, source) from exc
    try:
        compiled = cls(
            schema,
            validate_formats=True,
            ignore_unknown_formats=False,
            retriever=retriever,
            registry=registry,
            base_uri=_base_uri(spec, options.base_dir),
        )
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
        raise _translate_compile(exc, draft, retriever, source) from exc
    fan = fanout(schema, base_uri=_base_uri(spec, options.base_dir), load=retriever)
    if options.max_fanout is not None and fan > options.max_fanout:
        raise _compile_error(_too_costly(fan, options.max_fanout), source)
    branches = _has_branches([schema, *retriever.retrieved.values()])
    return JsonSchemaValidator(compiled, draft, fanout=fan, lists_branches=branches)


def _too_costly(fan: int, limit: int) -> str:
    if fan >= UNBOUNDED:
        how = (
            "its evaluation cost has no bound: a $ref cycle that never moves into a member of "
            "the value, or subschema applications that multiply at every level"
        )
    else:
        how = f"it can apply {fan} subschemas to a single value of a record"
    return (
        f"the schema is too costly to evaluate: {how} (allOf/anyOf/oneOf/$ref/"
        f"patternProperties/items fan-out), over the limit of {limit}; a record could take "
        "minutes and produce millions of errors. Reference each definition once per branch."
    )


def _has_branches(schema: Any) -> bool:
    """Whether ``anyOf``/``oneOf`` occur: their errors carry every branch's errors."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "anyOf" in node or "oneOf" in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


# -- validate --------------------------------------------------------------------------------


@final
class JsonSchemaValidator:
    """A compiled JSON Schema. ``is_valid`` is jsonschema-rs's own bound method (the hot path).

    ``is_valid`` expects a JSON value as :meth:`decode` returns it (at most
    :data:`~dataquarantine.validation.limits.MAX_DEPTH` levels deep); :meth:`violations`
    also copes with deeper or non-JSON values.
    """

    __slots__ = ("_iter_errors", "_validate", "draft", "fanout", "is_valid", "lists_branches")

    decode: Final = staticmethod(parse_json)

    def __init__(
        self,
        compiled: jsonschema_rs.Validator,
        draft: Draft,
        *,
        fanout: int = 1,
        lists_branches: bool = True,
    ) -> None:
        self.draft: Draft = draft
        #: The schema's static bound on subschema applications per value (schema_cost).
        self.fanout = max(fanout, 1)
        #: Whether ``anyOf``/``oneOf`` occur (even one error of theirs can be costly).
        self.lists_branches = lists_branches
        self.is_valid: Callable[[Any], bool] = compiled.is_valid
        self._validate: Callable[[Any], None] = compiled.validate
        self._iter_errors: Callable[[Any], Iterator[jsonschema_rs.ValidationError]] = (
            compiled.iter_errors
        )

    def collect(self, value: Any, sink: ViolationSink) -> None:
        """The violations of ``value``, in the order jsonschema-rs finds them.

        jsonschema-rs builds every error before returning the first, so they are asked for
        only when their number is bounded: at most :data:`MAX_ENUMERATED` subschema
        applications (the record's values times :attr:`fanout`). Beyond, the first violation
        alone is reported (or, when ``anyOf``/``oneOf`` occur, that the record does not
        match), and the sink is told the rest were not looked for."""
        size = encoded_size(value)  # bounds both walks below: most records skip them
        if (size is None or size >= 2 * (MAX_DEPTH + 1)) and nests_deeper_than(value, MAX_DEPTH):
            sink.append(_whole(f"the record nests deeper than {MAX_DEPTH} levels"))
            return
        budget = MAX_ENUMERATED // self.fanout
        if (size is None or size > budget) and _values_over(value, budget):
            self._first_only(value, sink, budget)
            return
        try:
            errors = self._iter_errors(value)
        except (ValueError, RecursionError) as exc:
            # Not JSON (a set, bytes, a non-string key), or too deep for jsonschema-rs to
            # echo the offending value (over 255 levels).
            sink.append(_whole(f"the record cannot be checked in detail: {exc}"))
            return
        for error in errors:
            _translate(error, value, sink)

    def _first_only(self, value: Any, sink: ViolationSink, budget: int) -> None:
        many = "an unbounded number of" if self.fanout >= UNBOUNDED else f"up to {self.fanout}"
        reason = (
            f"the record has over {budget} values and the schema applies {many} subschemas "
            f"to one value: listing every violation could take over {MAX_ENUMERATED} checks"
        )
        if self.lists_branches:
            sink.append(_whole("the record does not match the schema"))
        else:
            try:
                self._validate(value)
            except jsonschema_rs.ValidationError as error:
                _translate(error, value, sink)
            except (ValueError, RecursionError) as exc:
                sink.append(_whole(f"the record cannot be checked in detail: {exc}"))
        if not len(sink):
            sink.append(_whole("the record does not match the schema"))
        sink.stop(reason)

    def violations(self, value: Any) -> list[Violation]:
        """:meth:`collect` into a fresh sink: at most ``MAX_VIOLATIONS``, then a summary."""
        sink = ViolationSink()
        self.collect(value, sink)
        return sink.listed()

    def __repr__(self) -> str:
        return f"JsonSchemaValidator({self.draft})"


def _values_over(value: Any, limit: int) -> bool:
    """Whether ``value`` holds more than ``limit`` JSON values (stops counting there)."""
    size = encoded_size(value)
    if size is not None and size <= limit:  # each value takes at least one byte of it
        return False
    count = 0
    stack = [value]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return False


def _whole(message: str) -> Violation:
    return Violation(ErrorCode.SCHEMA_VIOLATION, "", message)


def _violation(path: str, message: str, keyword: str) -> Violation:
    return Violation(ErrorCode.SCHEMA_VIOLATION, path, _shorten(message), keyword=keyword)


_NAMED: Final = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"}
)


def _false_keyword(schema_path: list[str | int]) -> str:
    """The keyword holding a ``false`` subschema (``items``, ``additionalProperties``, ...)."""
    keyword = "falseSchema"
    name_next = False
    for part in schema_path:
        if isinstance(part, int):  # an index after allOf, prefixItems, ...
            continue
        if name_next:  # a property or definition name after properties, $defs, ...
            name_next = False
            continue
        keyword = part
        name_next = part in _NAMED
    return keyword


def _node_at(value: Any, parts: list[str | int]) -> Any:
    node = value
    for part in parts:
        node = node[part]
    return node


def _translate(error: jsonschema_rs.ValidationError, value: Any, out: ViolationSink) -> None:
    kind = error.kind
    base = pointers.join(error.instance_path)
    if isinstance(kind, _Kind.Required):
        last = error.schema_path[-1] if error.schema_path else "required"
        keyword = last if last in ("dependentRequired", "dependencies") else "required"
        out.append(_violation(f"{base}/{pointers.escape(kind.property)}", error.message, keyword))
        return
    if isinstance(kind, (_Kind.AdditionalProperties, _Kind.UnevaluatedProperties)) and (
        kind.unexpected
    ):
        what = "additional" if isinstance(kind, _Kind.AdditionalProperties) else "unevaluated"
        _per_property(base, kind.unexpected, what, kind.name, out)
        return
    if isinstance(kind, _Kind.FalseSchema):
        keyword = _false_keyword(error.schema_path)
        if keyword == "additionalProperties":
            # jsonschema-rs reports a bare ``additionalProperties: false`` once, at the object
            # (not at the property): then every member of that object is unexpected.
            try:
                node = _node_at(value, error.instance_path)
            except (LookupError, TypeError):
                node = None
            if isinstance(node, dict) and node and node != error.instance:
                _per_property(base, list(node), "additional", keyword, out)
                return
        out.append(_violation(base, error.message, keyword))
        return
    if isinstance(kind, _Kind.AdditionalItems) and isinstance(error.instance, list):
        extra = range(kind.limit, len(error.instance))
        for index in extra:
            message = f"additional item {index} is not allowed (at most {kind.limit} items)"
            out.append(_violation(f"{base}/{index}", message, kind.name))
        if extra:
            return
    if isinstance(kind, _Kind.PropertyNames) and isinstance(kind.error.instance, str):
        name = kind.error.instance
        message = f"property name {json.dumps(name, ensure_ascii=False)}: {kind.error.message}"
        out.append(_violation(f"{base}/{pointers.escape(name)}", message, kind.name))
        return
    out.append(_violation(base, error.message, kind.name))


def _per_property(base: str, names: list[str], what: str, keyword: str, out: ViolationSink) -> None:
    for name in names:
        message = f"{what} property {json.dumps(name, ensure_ascii=False)} is not allowed"
        out.append(_violation(f"{base}/{pointers.escape(name)}", message, keyword))
