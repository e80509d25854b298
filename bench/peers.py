"""Peer validators for the file benchmark: what a user could write instead of DataQuarantine.

Each peer is a function ``lines -> rejected`` over the decoded-or-not JSON lines of one batch:
it returns, per line, whether it rejected it. Each is written for the demo contracts
(user_event 1.0.0 / 1.1.0, page_view 1.0.0), routed by ``_schema`` like the engine, and
checks the schema only (none evaluates the contracts' business rules). A peer whose library
is not installed raises ImportError when built; the bench reports it as skipped.
"""

# No `from __future__ import annotations`: the models below are built inside functions and
# msgspec and pydantic resolve their annotations eagerly.

from collections.abc import Callable
from pathlib import Path
from typing import Any

from seed_design import contract_schemas

__all__ = ["PEERS", "Check"]

#: One batch of raw lines -> one flag per line, True where the peer rejected it.
Check = Callable[[list[bytes]], list[bool]]

_USER_EVENT_TAGS = {"user_event": "ue11", "user_event@1.1.0": "ue11", "user_event@1.0.0": "ue10"}
_TAGS = {**_USER_EVENT_TAGS, "page_view": "pv", "page_view@1.0.0": "pv"}
_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def handrolled(contracts: Path) -> Check:
    """orjson.loads + jsonschema-rs ``is_valid``; every error (``iter_errors``) of a failure."""
    import jsonschema_rs
    import orjson

    validators = {
        tag: jsonschema_rs.validator_for(schema, validate_formats=True)
        for tag, schema in contract_schemas(contracts).items()
    }
    loads, error, get = orjson.loads, orjson.JSONDecodeError, validators.get

    def check(lines: list[bytes]) -> list[bool]:
        out = []
        for raw in lines:
            try:
                record = loads(raw)
            except error:
                out.append(True)
                continue
            tag = record.get("_schema") if type(record) is dict else None
            validator = get(tag) if type(tag) is str else None
            if validator is None:
                out.append(True)
            elif validator.is_valid(record):
                out.append(False)
            else:
                out.append(bool(list(validator.iter_errors(record))))
        return out

    return check


def _pydantic_adapter() -> Any:
    from datetime import datetime
    from typing import Annotated, Literal, NotRequired
    from uuid import UUID

    from pydantic import (
        AnyUrl,
        AwareDatetime,
        ConfigDict,
        Discriminator,
        Field,
        StringConstraints,
        Tag,
        TypeAdapter,
    )
    from typing_extensions import TypedDict

    config = ConfigDict(extra="forbid", strict=True)

    def pattern(p: str) -> Any:
        return Annotated[str, StringConstraints(pattern=p)]

    class Device(TypedDict):
        __pydantic_config__ = config  # type: ignore[misc]
        type: Literal["mobile", "desktop", "tablet"]
        os: NotRequired[str]

    class UserEvent10(TypedDict):
        __pydantic_config__ = config  # type: ignore[misc]
        _schema: NotRequired[str]
        event_id: UUID
        user_id: pattern(r"^USER[0-9]{6}$")  # type: ignore[valid-type]
        event_type: Literal["click", "view", "purchase", "signup", "logout"]
        timestamp: AwareDatetime
        session_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
        page_url: NotRequired[AnyUrl]
        product_id: NotRequired[pattern(r"^PROD[0-9]{1,6}$")]  # type: ignore[valid-type]
        amount: NotRequired[Annotated[float, Field(ge=0)]]
        currency: NotRequired[Annotated[str, StringConstraints(min_length=3, max_length=3)]]
        email: NotRequired[str]
        device: NotRequired[Device]
        properties: NotRequired[Annotated[dict[str, Any], Field(max_length=20)]]

    class UserEvent11(UserEvent10):
        referrer: NotRequired[AnyUrl]

    class Viewport(TypedDict):
        __pydantic_config__ = config  # type: ignore[misc]
        width: Annotated[int, Field(ge=1)]
        height: Annotated[int, Field(ge=1)]

    http_url = Annotated[AnyUrl, Field()]

    class PageView(TypedDict):
        __pydantic_config__ = config  # type: ignore[misc]
        _schema: NotRequired[str]
        view_id: pattern(_UUID)  # type: ignore[valid-type]
        user_id: NotRequired[pattern(r"^USER[0-9]{6}$")]  # type: ignore[valid-type]
        anonymous_id: NotRequired[Annotated[str, StringConstraints(min_length=8, max_length=64)]]
        session_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
        url: http_url
        referrer: NotRequired[http_url]
        title: NotRequired[Annotated[str, StringConstraints(max_length=200)]]
        timestamp: datetime
        duration_ms: NotRequired[Annotated[int, Field(ge=0)]]
        scroll_depth: NotRequired[Annotated[float, Field(ge=0, le=1)]]
        viewport: NotRequired[Viewport]

    def tag(value: Any) -> str | None:
        name = value.get("_schema") if isinstance(value, dict) else None
        return _TAGS.get(name) if isinstance(name, str) else None

    event = Annotated[
        Annotated[UserEvent10, Tag("ue10")]
        | Annotated[UserEvent11, Tag("ue11")]
        | Annotated[PageView, Tag("pv")],
        Discriminator(tag),
    ]
    return TypeAdapter(event)


def pydantic_strict(contracts: Path) -> Check:
    """pydantic v2 strict TypedDicts (extra forbidden), one discriminated union on _schema."""
    from pydantic import ValidationError

    validate = _pydantic_adapter().validate_json

    def check(lines: list[bytes]) -> list[bool]:
        out = []
        for raw in lines:
            try:
                validate(raw, strict=True)
                out.append(False)
            except ValidationError:
                out.append(True)
        return out

    return check


def _msgspec_decoder() -> Any:
    import datetime as dt
    import uuid
    from typing import Annotated, Literal

    import msgspec
    from msgspec import UNSET, Meta, Struct, UnsetType

    user_tag = Annotated[str, Meta(pattern=r"^USER[0-9]{6}$")]
    session = Annotated[str, Meta(min_length=1, max_length=64)]
    options = {"forbid_unknown_fields": True, "tag_field": "_schema"}

    class Device(Struct, forbid_unknown_fields=True):
        type: Literal["mobile", "desktop", "tablet"]
        os: str | UnsetType = UNSET

    class UserEvent10(Struct, tag="user_event@1.0.0", **options):  # type: ignore[call-arg]
        event_id: uuid.UUID
        user_id: user_tag
        event_type: Literal["click", "view", "purchase", "signup", "logout"]
        timestamp: Annotated[dt.datetime, Meta(tz=True)]
        session_id: session
        page_url: str | UnsetType = UNSET
        product_id: Annotated[str, Meta(pattern=r"^PROD[0-9]{1,6}$")] | UnsetType = UNSET
        amount: Annotated[float, Meta(ge=0)] | UnsetType = UNSET
        currency: Annotated[str, Meta(min_length=3, max_length=3)] | UnsetType = UNSET
        email: str | UnsetType = UNSET
        device: Device | UnsetType = UNSET
        properties: Annotated[dict[str, Any], Meta(max_length=20)] | UnsetType = UNSET

    class UserEvent11(UserEvent10, tag="user_event@1.1.0"):  # type: ignore[call-arg]
        referrer: str | UnsetType = UNSET

    class UserEvent(UserEvent11, tag="user_event"):  # type: ignore[call-arg]
        pass

    class Viewport(Struct, forbid_unknown_fields=True):
        width: Annotated[int, Meta(ge=1)]
        height: Annotated[int, Meta(ge=1)]

    http_url = Annotated[str, Meta(pattern=r"^https?://")]

    class PageView(Struct, tag="page_view@1.0.0", **options):  # type: ignore[call-arg]
        view_id: Annotated[str, Meta(pattern=_UUID)]
        session_id: session
        url: http_url
        timestamp: Annotated[dt.datetime, Meta(tz=True)]
        user_id: user_tag | UnsetType = UNSET
        anonymous_id: Annotated[str, Meta(min_length=8, max_length=64)] | UnsetType = UNSET
        referrer: http_url | UnsetType = UNSET
        title: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
        duration_ms: Annotated[int, Meta(ge=0)] | UnsetType = UNSET
        scroll_depth: Annotated[float, Meta(ge=0, le=1)] | UnsetType = UNSET
        viewport: Viewport | UnsetType = UNSET

    class PageViewLatest(PageView, tag="page_view"):  # type: ignore[call-arg]
        pass

    union = UserEvent10 | UserEvent11 | UserEvent | PageView | PageViewLatest
    return msgspec.json.Decoder(union)


def msgspec_structs(contracts: Path) -> Check:
    """msgspec typed Structs tagged by _schema: stops at the first error of a record."""
    import msgspec

    decode = _msgspec_decoder().decode
    error = msgspec.ValidationError, msgspec.DecodeError

    def check(lines: list[bytes]) -> list[bool]:
        out = []
        for raw in lines:
            try:
                decode(raw)
                out.append(False)
            except error:
                out.append(True)
        return out

    return check


_RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def _by_contract(bad_rows: Callable[[str, list[dict[str, Any]]], set[int]]) -> Check:
    """A frame-based peer's check: each batch's records grouped by contract (``_schema``), each
    group judged at once by ``bad_rows`` (the indexes of its rejected rows); lines orjson cannot
    parse pass, as a frame library never sees them."""
    import orjson

    loads, error = orjson.loads, orjson.JSONDecodeError

    def check(lines: list[bytes]) -> list[bool]:
        out = [True] * len(lines)
        groups: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
        for i, raw in enumerate(lines):
            try:
                record = loads(raw)
            except error:
                continue
            name = record.get("_schema") if type(record) is dict else None
            tag = _TAGS.get(name) if type(name) is str else None
            if tag is not None:
                idx, rows = groups.setdefault(tag, ([], []))
                idx.append(i)
                rows.append(record)
        for tag, (idx, rows) in groups.items():
            bad = bad_rows(tag, rows)
            for k, i in enumerate(idx):
                out[i] = k in bad
        return out

    return check


def _pandera_models() -> dict[str, Any]:
    import pandera.polars as pa

    events = ["click", "view", "purchase", "signup", "logout"]

    class UserEvent10(pa.DataFrameModel):
        event_id: str = pa.Field(str_matches=_UUID)
        user_id: str = pa.Field(str_matches=r"^USER[0-9]{6}$")
        event_type: str = pa.Field(isin=events)
        timestamp: str = pa.Field(str_matches=_RFC3339)
        session_id: str = pa.Field(str_length={"min_value": 1, "max_value": 64})
        page_url: str | None = pa.Field(nullable=True)
        product_id: str | None = pa.Field(nullable=True, str_matches=r"^PROD[0-9]{1,6}$")
        amount: float | None = pa.Field(nullable=True, ge=0)
        currency: str | None = pa.Field(nullable=True, str_length={"min_value": 3, "max_value": 3})
        email: str | None = pa.Field(nullable=True)

        class Config:
            coerce = True

    class UserEvent11(UserEvent10):
        referrer: str | None = pa.Field(nullable=True)

    class PageView(pa.DataFrameModel):
        view_id: str = pa.Field(str_matches=_UUID)
        user_id: str | None = pa.Field(nullable=True, str_matches=r"^USER[0-9]{6}$")
        anonymous_id: str | None = pa.Field(
            nullable=True, str_length={"min_value": 8, "max_value": 64}
        )
        session_id: str = pa.Field(str_length={"min_value": 1, "max_value": 64})
        url: str = pa.Field(str_matches=r"^https?://")
        referrer: str | None = pa.Field(nullable=True, str_matches=r"^https?://")
        title: str | None = pa.Field(nullable=True, str_length={"max_value": 200})
        timestamp: str = pa.Field(str_matches=_RFC3339)
        duration_ms: int | None = pa.Field(nullable=True, ge=0)
        scroll_depth: float | None = pa.Field(nullable=True, ge=0, le=1)

        class Config:
            coerce = True

    return {"ue10": UserEvent10, "ue11": UserEvent11, "pv": PageView}


def pandera_polars(contracts: Path) -> Check:
    """orjson.loads, records grouped per contract into a polars frame (types inferred, mixed
    columns made strings, as polars does), one pandera DataFrameModel per contract, lazy
    validation; a row is rejected when a failure case names it, or when it carries a column
    the model does not declare (nested objects are not checked)."""
    import pandera.errors
    import polars as pl

    models = _pandera_models()
    known = {tag: {*model.to_schema().columns, "_schema"} for tag, model in models.items()}
    nested = {"device", "properties", "viewport"}

    def bad_rows(tag: str, rows: list[dict[str, Any]]) -> set[int]:
        frame = pl.DataFrame(rows, strict=False, infer_schema_length=None)
        bad: set[int] = set()
        for column in set(frame.columns) - known[tag] - nested:
            bad.update(frame.with_row_index().filter(pl.col(column).is_not_null())["index"])
        frame = frame.drop([c for c in frame.columns if c not in known[tag]])
        try:
            models[tag].validate(frame, lazy=True)
        except pandera.errors.SchemaErrors as exc:
            index = exc.failure_cases["index"]
            if index.null_count():  # a column-level failure (dtype, missing column)
                return set(range(len(rows)))
            bad.update(index.to_list())
        return bad

    return _by_contract(bad_rows)


#: Per contract: required columns, {column: regex}, {column: allowed values},
#: {column: (min length, max length)}, {column: (minimum, maximum)}, the declared columns.
_GX_SPECS: dict[str, dict[str, Any]] = {
    "ue10": {
        "required": ["event_id", "user_id", "event_type", "timestamp", "session_id"],
        "regex": {
            "event_id": _UUID,
            "user_id": r"^USER[0-9]{6}$",
            "timestamp": _RFC3339,
            "product_id": r"^PROD[0-9]{1,6}$",
        },
        "in_set": {"event_type": ["click", "view", "purchase", "signup", "logout"]},
        "lengths": {"session_id": (1, 64), "currency": (3, 3)},
        "between": {"amount": (0, None)},
        "columns": ["page_url", "email", "device", "properties"],
    },
    "pv": {
        "required": ["view_id", "session_id", "url", "timestamp"],
        "regex": {
            "view_id": _UUID,
            "user_id": r"^USER[0-9]{6}$",
            "url": r"^https?://",
            "referrer": r"^https?://",
            "timestamp": _RFC3339,
        },
        "in_set": {},
        "lengths": {"anonymous_id": (8, 64), "session_id": (1, 64), "title": (0, 200)},
        "between": {"duration_ms": (0, None), "scroll_depth": (0, 1)},
        "columns": ["viewport"],
    },
}
_GX_SPECS["ue11"] = {**_GX_SPECS["ue10"], "columns": [*_GX_SPECS["ue10"]["columns"], "referrer"]}


def _gx_suite(gx: Any, spec: dict[str, Any]) -> Any:
    e = gx.expectations
    suite = gx.ExpectationSuite(name="contract")
    for column in spec["required"]:
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=column))
    for column, regex in spec["regex"].items():
        suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column=column, regex=regex))
    for column, values in spec["in_set"].items():
        suite.add_expectation(e.ExpectColumnValuesToBeInSet(column=column, value_set=values))
    for column, (low, high) in spec["lengths"].items():
        suite.add_expectation(
            e.ExpectColumnValueLengthsToBeBetween(column=column, min_value=low, max_value=high)
        )
    for column, (low, high) in spec["between"].items():
        suite.add_expectation(
            e.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)
        )
    return suite


def great_expectations(contracts: Path) -> Check:
    """orjson.loads, records grouped per contract into a pandas frame, one expectation suite
    per contract (not-null, regex, value sets, lengths, ranges) validated with COMPLETE
    results; a row is rejected when an expectation lists its index, or when it carries a
    column the contract does not declare. An expectation that errors (mixed types in a
    column) lists no index and so rejects no row."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batches = context.data_sources.add_pandas("bench").add_dataframe_asset("records")
    definition = batches.add_batch_definition_whole_dataframe("batch")
    suites = {tag: _gx_suite(gx, spec) for tag, spec in _GX_SPECS.items()}
    declared = {
        tag: {"_schema", *spec["required"], *spec["regex"], *spec["in_set"], *spec["lengths"]}
        | {*spec["between"], *spec["columns"]}
        for tag, spec in _GX_SPECS.items()
    }

    def bad_rows(tag: str, rows: list[dict[str, Any]]) -> set[int]:
        frame = pd.DataFrame(rows)
        bad: set[int] = set()
        for column in set(frame.columns) - declared[tag]:
            bad.update(frame.index[frame[column].notna()])
        for column in declared[tag] - set(frame.columns):
            frame[column] = None
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(suites[tag], result_format={"result_format": "COMPLETE"})
        for res in result.results:
            if res.success:
                continue
            bad.update(res.result.get("unexpected_index_list") or ())
        return bad

    return _by_contract(bad_rows)


PEERS: dict[str, Callable[[Path], Check]] = {
    "handrolled": handrolled,
    "pydantic": pydantic_strict,
    "msgspec": msgspec_structs,
    "pandera": pandera_polars,
    "gx": great_expectations,
}
