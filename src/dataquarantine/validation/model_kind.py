"""The ``model`` validator kind: records checked by a pydantic v2 model.

The contract names the model as ``model: package.module:ClassName`` (``package.module.ClassName``
and nested classes, ``module:Outer.Inner``, are accepted too). The module is imported with the
normal import path first; when it is not found there, once more with the contract's folder at
the front of ``sys.path`` (so a ``models.py`` next to the contract works; beware that its name
then shares the global module namespace). The class must subclass ``pydantic.BaseModel``.

Records are decoded as strict JSON and validated as Python data, in the mode the model
configures (lax by default: ``"5"`` is accepted for an ``int``, but pydantic v2 never turns a
number into a ``str``). The decoded record is kept as it is; the model instance is discarded.

Each pydantic error becomes one violation: the pointer follows ``loc`` through the record
(``/items/0/sku``; for ``missing``, the pointer of the missing field), leaving out the parts of
``loc`` that are not members of the record (union branch and validator labels such as
``int`` or ``function-after[...]``); ``keyword`` is pydantic's error type (``missing``,
``int_parsing``, ``string_type``...) and ``message`` its ``msg``. A model validator raising
anything other than ``ValueError``/``AssertionError`` gives one violation with keyword
``model_error``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, final

from pydantic import BaseModel, TypeAdapter, ValidationError

from dataquarantine.errors import SchemaCompileError
from dataquarantine.kernel import pointers
from dataquarantine.kernel.results import ErrorCode, Violation, ViolationSink
from dataquarantine.validation.base import CompileOptions, SchemaValidator, register_kind
from dataquarantine.validation.parsing import parse_json

if TYPE_CHECKING:
    from dataquarantine.contracts.model import ContractSpec

__all__ = ["ModelValidator", "compile_model", "load_model"]

_MISSING: Final = object()


@register_kind("model")
def compile_model(spec: ContractSpec, options: CompileOptions) -> SchemaValidator:
    """Compile a contract whose ``model`` names a pydantic ``BaseModel`` subclass.

    Raises :class:`~dataquarantine.errors.SchemaCompileError` when the model cannot be
    imported, is not a ``BaseModel`` subclass or does not build a validator.
    """
    source = spec.source_path
    if not spec.model:
        raise SchemaCompileError(
            "a model contract needs 'model: package.module:Class'", source=source
        )
    model = load_model(spec.model, options.base_dir, source=source)
    try:
        model.model_rebuild()
        adapter: TypeAdapter[BaseModel] = TypeAdapter(model)
    except Exception as exc:  # undefined forward references, unsupported field types...
        raise SchemaCompileError(
            f"model {spec.model} does not build a validator: {exc}", source=source
        ) from exc
    return ModelValidator(model, adapter)


def load_model(
    target: str, base_dir: Path | None = None, *, source: Path | str | None = None
) -> type[BaseModel]:
    """Import the ``BaseModel`` subclass named ``package.module:ClassName``."""
    module_name, sep, attr = target.partition(":")
    if not sep:
        module_name, _, attr = target.rpartition(".")
    module_name, attr = module_name.strip(), attr.strip()
    if not module_name or not attr:
        raise SchemaCompileError(
            f"model {target!r} must be written 'package.module:ClassName'", source=source
        )
    module = _import(module_name, target, base_dir, source)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise SchemaCompileError(
                f"model {target}: {module_name} has no attribute {attr!r}", source=source
            ) from exc
    if not (isinstance(obj, type) and issubclass(obj, BaseModel)):
        raise SchemaCompileError(
            f"model {target} is not a pydantic BaseModel subclass (got {obj!r})", source=source
        )
    return obj


def _import(module_name: str, target: str, base_dir: Path | None, source: Path | str | None) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Retry from the contract folder only when the module itself (or a parent package)
        # was not found: a module that failed while running must not be run twice.
        missing = exc.name or ""
        if base_dir is None or not (module_name + ".").startswith(missing + "."):
            raise _import_error(target, exc, source) from exc
    except Exception as exc:  # the module was found but raised while being imported
        raise _import_error(target, exc, source) from exc
    try:
        with _on_path(base_dir):
            return importlib.import_module(module_name)
    except Exception as exc:
        raise _import_error(target, exc, source, searched=base_dir) from exc


@contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    entry = str(folder.resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        if added:
            with suppress(ValueError):
                sys.path.remove(entry)


def _import_error(
    target: str, exc: BaseException, source: Path | str | None, searched: Path | None = None
) -> SchemaCompileError:
    where = f" (also searched {searched})" if searched is not None else ""
    reason = f"{type(exc).__name__}: {exc}"
    return SchemaCompileError(f"cannot import model {target}{where}: {reason}", source=source)


@final
class ModelValidator:
    """Validates decoded JSON records with a pydantic model (a cached ``TypeAdapter``)."""

    __slots__ = ("_adapter", "_validate", "model")

    decode: Final = staticmethod(parse_json)

    def __init__(self, model: type[BaseModel], adapter: TypeAdapter[BaseModel]) -> None:
        self.model = model
        self._adapter = adapter
        self._validate = adapter.validate_python

    def is_valid(self, value: Any) -> bool:
        """True when the model accepts ``value``."""
        try:
            self._validate(value)
        except Exception:  # ValidationError, or a validator that raised: violations() says
            return False
        return True

    def collect(self, value: Any, sink: ViolationSink) -> None:
        """One violation per pydantic error (or one ``model_error`` when the model crashed)."""
        try:
            self._validate(value)
        except ValidationError as exc:
            try:
                errors = exc.errors(include_url=False, include_context=False, include_input=False)
            except Exception as inner:
                sink.append(self._crash(inner))
                return
            room = sink.room  # past it only the count matters
            sink.extend(_violation(err, value) for err in errors[:room])
            sink.skip(len(errors) - room, ErrorCode.SCHEMA_VIOLATION)
        except Exception as exc:
            sink.append(self._crash(exc))

    def violations(self, value: Any) -> list[Violation]:
        """:meth:`collect` into a fresh sink: at most ``MAX_VIOLATIONS``, then a summary."""
        sink = ViolationSink()
        self.collect(value, sink)
        return sink.listed()

    def _crash(self, exc: BaseException) -> Violation:
        message = f"model {self.model.__name__} raised {type(exc).__name__}: {exc}"
        return Violation(ErrorCode.SCHEMA_VIOLATION, "", message, keyword="model_error")

    def json_schema(self) -> dict[str, Any] | None:
        """The model's JSON Schema (used to type text input), or ``None`` when it has none."""
        try:
            return self._adapter.json_schema()
        except Exception:
            return None

    def __repr__(self) -> str:
        return f"ModelValidator({self.model.__module__}:{self.model.__qualname__})"


def _violation(err: Any, value: Any) -> Violation:
    kind = str(err.get("type", "value_error"))
    path = loc_to_pointer(err.get("loc", ()), value, missing=kind.startswith("missing"))
    return Violation(ErrorCode.SCHEMA_VIOLATION, path, str(err.get("msg", kind)), keyword=kind)


def loc_to_pointer(loc: Sequence[Any], value: Any, *, missing: bool = False) -> str:
    """The JSON Pointer of a pydantic ``loc`` in ``value``.

    Parts that are not a member of the value at that point (union branch and validator labels)
    are left out, except the last part of a ``missing`` error: the member that should be there.
    """
    parts: list[str] = []
    node = value
    last = len(loc) - 1
    for i, seg in enumerate(loc):
        child = _member(node, seg)
        if child is not _MISSING:
            parts.append(str(seg))
            node = child
        elif missing and i == last:
            parts.append(str(seg))
    return pointers.join(parts)


def _member(node: Any, seg: Any) -> Any:
    if isinstance(node, dict):
        if seg in node:
            return node[seg]
        key = str(seg)
        return node.get(key, _MISSING)
    if isinstance(node, (list, tuple)) and type(seg) is int and 0 <= seg < len(node):
        return node[seg]
    return _MISSING
