"""Deterministic sample events for the demo, the benchmark and the tests.

Records are JSON lines routed by their ``_schema`` field (``name`` for the latest version,
``name@version`` for an exact one) to the contracts shipped in :data:`DEMO_CONTRACTS_DIR`:
``user_event`` 1.0.0 and 1.1.0 and ``page_view`` 1.0.0. A share of them (``bad_ratio``) is
broken on purpose, spread round-robin over every known way of failing; each record says
which outcome it must get (``expected``: the first stage that fails, in the order parse ->
route -> schema -> rules) and how it was made (``variant``).

Valid records include a few that trip a ``warn`` rule: they pass, flagged.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, Literal

import orjson

__all__ = [
    "BAD_VARIANTS",
    "DEMO_CONTRACTS_DIR",
    "EXPECTED_KINDS",
    "FAILURE_KINDS",
    "Expected",
    "GeneratedRecord",
    "generate",
    "write_jsonl",
]

Expected = Literal["valid", "parse_error", "schema_not_found", "schema_violation", "rule_violation"]

EXPECTED_KINDS: Final[tuple[Expected, ...]] = (
    "valid",
    "parse_error",
    "schema_not_found",
    "schema_violation",
    "rule_violation",
)
FAILURE_KINDS: Final[tuple[Expected, ...]] = EXPECTED_KINDS[1:]

#: The YAML contracts the generated records are written for (shipped inside the package).
DEMO_CONTRACTS_DIR: Final[Path] = Path(__file__).resolve().with_name("contracts")

#: Currencies the ``currency_supported`` rule accepts (keep in sync with the contracts).
CURRENCIES: Final[tuple[str, ...]] = ("USD", "EUR", "GBP", "JPY", "CAD", "AUD", "CHF", "SEK")


@dataclass(frozen=True, slots=True)
class GeneratedRecord:
    """One generated line (without its newline) and the outcome it must get."""

    raw: bytes
    expected: Expected
    variant: str


_dumps = orjson.dumps
_EPOCH = datetime(2024, 5, 1, tzinfo=UTC)
_OFFSETS = (
    UTC,
    UTC,
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
    timezone(timedelta(hours=9)),
)
# 32 slots indexed by 5 random bits: view 14, click 10, purchase 3, signup 2, logout 3.
_EVENT_TYPES: tuple[str, ...] = (
    ("view",) * 14 + ("click",) * 10 + ("purchase",) * 3 + ("signup",) * 2
)
_EVENT_TYPES += ("logout",) * 3
_FIRST = ("jane", "john", "amara", "li", "sofia", "omar", "yuki", "lucas", "noor", "eva")
_LAST = ("doe", "smith", "okafor", "chen", "rossi", "haddad", "tanaka", "silva", "khan")
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")
_PATHS = ("/", "/search", "/cart", "/checkout", "/account", "/deals", "/help")
_DEVICES = (
    ("mobile", ("iOS 17.4", "iOS 16.7", "Android 14", "Android 13")),
    ("desktop", ("Windows 11", "Windows 10", "macOS 14.4", "Ubuntu 24.04")),
    ("tablet", ("iPadOS 17.4", "Android 13")),
)
_PROPERTY_CHOICES: tuple[dict[str, Any], ...] = (
    {},
    {"button": "add_to_cart", "position": 3},
    {"button": "buy_now", "position": 1},
    {"search_query": "running shoes", "results": 48},
    {"experiment": "checkout_v2", "arm": "B"},
    {"campaign": "spring_sale", "medium": "email"},
    {"tab": "reviews"},
    {"filters": ["size:M", "color:blue"], "sort": "price_asc"},
)
_TITLES = ("Home", "Search results", "Your cart", "Checkout", "Deals of the day", "Help")
_VIEWPORTS = ((390, 844), (412, 915), (1920, 1080), (1440, 900), (820, 1180), (1366, 768))
_UUID_VARIANT = "89ab"


def _pool(size: int, make: Callable[[int], Any]) -> tuple[Any, ...]:
    return tuple(make(i) for i in range(size))


class _Factory:
    """Builds records from pools of values drawn once from the seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.bits = rng.getrandbits
        r = rng.randrange

        def timestamp(_: int) -> str:
            at = _EPOCH + timedelta(seconds=r(30 * 86400), milliseconds=r(1000))
            local = at.astimezone(_OFFSETS[r(len(_OFFSETS))])
            return local.isoformat(timespec="milliseconds" if r(2) else "seconds").replace(
                "+00:00", "Z"
            )

        def email(_: int) -> str:
            local = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}{r(1000)}"
            return f"{local}@{rng.choice(_DOMAINS)}"

        def device(_: int) -> dict[str, str]:
            kind, systems = _DEVICES[r(len(_DEVICES))]
            return {"type": kind, "os": rng.choice(systems)}

        # Pool sizes are powers of two so a slice of random bits indexes them.
        self.users = _pool(4096, lambda _: f"USER{r(1_000_000):06d}")
        self.sessions = _pool(4096, lambda _: f"sess_{rng.getrandbits(48):012x}")
        self.timestamps = _pool(8192, timestamp)
        self.products = _pool(1024, lambda _: f"PROD{r(1, 1_000_000)}")
        self.amounts = _pool(1024, lambda _: round(rng.uniform(0.5, 480.0), 2))
        self.currencies = _pool(16, lambda i: CURRENCIES[0 if i < 8 else i % len(CURRENCIES)])
        self.emails = _pool(1024, email)
        self.devices = _pool(64, device)
        self.props = _pool(16, lambda i: _PROPERTY_CHOICES[i % len(_PROPERTY_CHOICES)])
        self.urls = _pool(
            512,
            lambda _: (
                f"https://shop.example.com{rng.choice(_PATHS)}"
                + (f"?item={r(1, 99999)}" if r(2) else "")
            ),
        )
        self.referrers = _pool(
            16,
            lambda i: ("https://search.example.net/?q=shoes", "https://news.example.org/deals")[
                i % 2
            ],
        )
        self.durations = _pool(1024, lambda _: r(200, 600_000))
        self.depths = _pool(128, lambda _: round(rng.random(), 2))
        self.viewports = _pool(
            8, lambda i: {"width": _VIEWPORTS[i % 6][0], "height": _VIEWPORTS[i % 6][1]}
        )

    def uuid(self) -> str:
        h = f"{self.bits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[self.bits(2)]}{h[17:20]}-{h[20:]}"

    def user_event(self, tag: str = "user_event", event_type: str | None = None) -> dict[str, Any]:
        """A valid ``user_event`` (``referrer`` only for the latest version)."""
        b = self.bits(64)
        c = self.bits(32)
        et = event_type or _EVENT_TYPES[b & 31]
        rec: dict[str, Any] = {
            "_schema": tag,
            "event_id": self.uuid(),
            "user_id": self.users[(b >> 5) & 4095],
            "event_type": et,
            "timestamp": self.timestamps[(b >> 17) & 8191],
            "session_id": self.sessions[(b >> 30) & 4095],
        }
        if et != "logout":
            rec["page_url"] = self.urls[(b >> 42) & 511]
        if et == "purchase":
            rec["product_id"] = self.products[(b >> 51) & 1023]
            rec["amount"] = self.amounts[c & 1023]
            rec["currency"] = self.currencies[(c >> 10) & 15]
        elif et == "signup":
            rec["email"] = self.emails[(b >> 51) & 1023]
        elif et in ("view", "click") and (b >> 61) == 0:
            rec["product_id"] = self.products[(b >> 51) & 1023]
        rec["device"] = self.devices[(c >> 14) & 63]
        rec["properties"] = self.props[(c >> 20) & 15] if et == "click" else {}
        if tag == "user_event" and (c >> 24) & 7 == 0:
            rec["referrer"] = self.referrers[(c >> 27) & 15]
        return rec

    def page_view(self) -> dict[str, Any]:
        """A valid ``page_view``: attributed to a user, or to an anonymous visitor."""
        b = self.bits(64)
        c = self.bits(32)
        rec: dict[str, Any] = {"_schema": "page_view", "view_id": self.uuid()}
        if b & 3:
            rec["user_id"] = self.users[(b >> 2) & 4095]
        else:
            rec["anonymous_id"] = f"anon_{c:08x}"
        rec["session_id"] = self.sessions[(b >> 14) & 4095]
        rec["url"] = self.urls[(b >> 26) & 511]
        rec["title"] = _TITLES[(b >> 35) % len(_TITLES)]
        rec["timestamp"] = self.timestamps[(b >> 38) & 8191]
        rec["duration_ms"] = self.durations[(b >> 51) & 1023]
        rec["scroll_depth"] = self.depths[c & 127]
        rec["viewport"] = self.viewports[(b >> 61) & 7]
        if (c >> 7) & 3 == 0:
            rec["referrer"] = self.referrers[(c >> 9) & 15]
        return rec

    def valid(self) -> tuple[bytes, str]:
        """A valid record and its variant: the routing tag, or the warn rule it trips."""
        pick = self.bits(8)
        if pick < 200:
            rec = self.user_event()
        elif pick < 222:
            rec = self.user_event("user_event@1.0.0")
        elif pick < 230:
            rec = self.user_event("user_event@1.1.0")
        else:
            rec = self.page_view()
            if pick == 255 and self.bits(1):
                rec["duration_ms"] = 3_600_000 + self.bits(20)
                return _dumps(rec), "warn_long_page_view"
            return _dumps(rec), "page_view"
        if rec["event_type"] == "signup" and self.bits(3) == 0:
            del rec["email"]
            return _dumps(rec), "warn_signup_without_email"
        return _dumps(rec), rec["_schema"]

    # Helpers for the bad variants below.
    def event(self, event_type: str, tag: str = "user_event") -> dict[str, Any]:
        return self.user_event(tag, event_type)

    def dumps_with(self, rec: dict[str, Any], extra: bytes) -> bytes:
        """``rec`` serialised with ``extra`` (raw bytes such as ``"k":v``) as its last member."""
        return _dumps(rec)[:-1] + b"," + extra + b"}"


def _without(rec: dict[str, Any], *keys: str) -> dict[str, Any]:
    for k in keys:
        rec.pop(k, None)
    return rec


def _with(rec: dict[str, Any], **values: Any) -> dict[str, Any]:
    rec.update(values)
    return rec


def _truncated(f: _Factory) -> bytes:
    raw = _dumps(f.event("purchase"))
    return raw[: f.rng.randrange(12, len(raw) - 1)]


def _latin1(f: _Factory) -> bytes:
    rec = f.event("view")
    rec["page_url"] = "https://shop.example.com/p/caf\u00e9-cr\u00e8me"
    return _dumps(rec).replace("\u00e9".encode(), b"\xe9").replace("\u00e8".encode(), b"\xe8")


def _raw_tab(f: _Factory) -> bytes:
    rec = f.event("click")
    rec["properties"] = {"note": "size\tM"}
    return _dumps(rec).replace(b"\\t", b"\t")


def _unescaped_quote(f: _Factory) -> bytes:
    rec = f.event("click")
    rec["properties"] = {"search_query": 'monitor 27" curved'}
    return _dumps(rec).replace(b'\\"', b'"')


def _lone_surrogate(f: _Factory) -> bytes:
    rec = f.event("click")
    rec["properties"] = {"reaction": "@@SURROGATE@@"}
    return _dumps(rec).replace(b"@@SURROGATE@@", b"\\ud83d")


def _unquoted_value(f: _Factory) -> bytes:
    return _dumps(f.event("click")).replace(b'"event_type":"click"', b'"event_type":click')


def _python_repr(f: _Factory) -> bytes:
    return repr(f.event("view")).encode("ascii")


def _log_line(f: _Factory) -> bytes:
    ts = f.timestamps[f.bits(13)]
    return f"{ts} WARN checkout-service retrying payment provider (attempt 2)".encode()


def _html_error(f: _Factory) -> bytes:
    return b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


_Variant = tuple[str, Expected, Callable[[_Factory], bytes]]

#: Every way a generated record is broken: (variant, expected outcome, builder).
BAD_VARIANTS: Final[tuple[_Variant, ...]] = (
    # parse_error: the bytes are not one strict JSON document.
    ("trailing_comma", "parse_error", lambda f: _dumps(f.event("view"))[:-1] + b",}"),
    (
        "nan_amount",  # what Python's json.dumps writes for float("nan")
        "parse_error",
        lambda f: f.dumps_with(_without(f.event("purchase"), "amount"), b'"amount":NaN'),
    ),
    ("infinity", "parse_error", lambda f: f.dumps_with(f.event("view"), b'"weight":Infinity')),
    ("truncated", "parse_error", _truncated),
    ("invalid_utf8", "parse_error", _latin1),
    ("raw_control_char", "parse_error", _raw_tab),
    ("unescaped_quote", "parse_error", _unescaped_quote),
    ("lone_surrogate", "parse_error", _lone_surrogate),
    ("unquoted_value", "parse_error", _unquoted_value),
    ("python_repr", "parse_error", _python_repr),
    (
        "two_records_one_line",
        "parse_error",
        lambda f: _dumps(f.event("view")) + _dumps(f.event("click")),
    ),
    ("log_line", "parse_error", _log_line),
    ("html_error_page", "parse_error", _html_error),
    # schema_not_found: decodes, but names no known contract (or version).
    ("unknown_contract_typo", "schema_not_found", lambda f: _dumps(f.event("view", "user_evnt"))),
    ("unknown_contract", "schema_not_found", lambda f: _dumps(f.event("view", "cart_event"))),
    ("unknown_version", "schema_not_found", lambda f: _dumps(f.event("view", "user_event@3.0.0"))),
    (
        "missing_schema_tag",
        "schema_not_found",
        lambda f: _dumps(_without(f.event("view"), "_schema")),
    ),
    # schema_violation: routed, but the JSON Schema refuses it.
    (
        "user_id_trailing_newline",  # Python's `$` matches before a final newline; ECMA's does not
        "schema_violation",
        lambda f: _dumps(_with(f.event("view"), user_id="USER123456\n")),
    ),
    (
        "missing_user_id",
        "schema_violation",
        lambda f: _dumps(_without(f.event("click"), "user_id")),
    ),
    (
        "user_id_as_number",
        "schema_violation",
        lambda f: _dumps(_with(f.event("view"), user_id=123456)),
    ),
    (
        "amount_as_string",
        "schema_violation",
        lambda f: _dumps(_with(f.event("purchase"), amount="12.50")),
    ),
    (
        "negative_amount",
        "schema_violation",
        lambda f: _dumps(_with(f.event("purchase"), amount=-12.5)),
    ),
    (
        "event_type_not_in_enum",
        "schema_violation",
        lambda f: _dumps(_with(f.event("click"), event_type="add_to_cart")),
    ),
    (
        "timestamp_date_only",
        "schema_violation",
        lambda f: _dumps(_with(f.event("view"), timestamp="2024-05-01")),
    ),
    (
        "timestamp_without_offset",
        "schema_violation",
        lambda f: _dumps(_with(f.event("view"), timestamp="2024-05-01T10:00:00")),
    ),
    (
        "timestamp_epoch_millis",
        "schema_violation",
        lambda f: _dumps(_with(f.event("click"), timestamp=1714557600000)),
    ),
    (
        "email_without_at",
        "schema_violation",
        lambda f: _dumps(_with(f.event("signup"), email="jane.doe.example.com")),
    ),
    (
        "null_session_id",
        "schema_violation",
        lambda f: _dumps(_with(f.event("view"), session_id=None)),
    ),
    (
        "unexpected_field",
        "schema_violation",
        lambda f: _dumps(_with(f.event("view"), ip_address="203.0.113.7")),
    ),
    (
        "referrer_on_v1",  # `referrer` only exists from user_event 1.1.0 on
        "schema_violation",
        lambda f: _dumps(
            _with(f.event("view", "user_event@1.0.0"), referrer="https://news.example.org/deals")
        ),
    ),
    (
        "device_type_not_in_enum",
        "schema_violation",
        lambda f: _dumps(_with(f.event("view"), device={"type": "smartwatch", "os": "watchOS 10"})),
    ),
    ("page_view_missing_url", "schema_violation", lambda f: _dumps(_without(f.page_view(), "url"))),
    (
        "page_view_scroll_depth_percent",
        "schema_violation",
        lambda f: _dumps(_with(f.page_view(), scroll_depth=85)),
    ),
    # rule_violation: structurally fine, but a business rule (severity error) fails.
    (
        "purchase_without_product",
        "rule_violation",
        lambda f: _dumps(_without(f.event("purchase"), "product_id")),
    ),
    (
        "purchase_zero_amount",
        "rule_violation",
        lambda f: _dumps(_with(f.event("purchase"), amount=0)),
    ),
    (
        "purchase_without_amount",
        "rule_violation",
        lambda f: _dumps(_without(f.event("purchase"), "amount")),
    ),
    (
        "currency_lowercase",
        "rule_violation",
        lambda f: _dumps(_with(f.event("purchase"), currency="usd")),
    ),
    (
        "currency_unsupported",
        "rule_violation",
        lambda f: _dumps(_with(f.event("purchase"), currency="XBT")),
    ),
    (
        "page_view_unattributed",
        "rule_violation",
        lambda f: _dumps(_without(f.page_view(), "user_id", "anonymous_id")),
    ),
)


def _stream(n: int, bad_ratio: float, seed: int) -> Iterator[tuple[bytes, Expected, str]]:
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= bad_ratio <= 1.0:
        raise ValueError("bad_ratio must be within [0, 1]")
    rng = random.Random(seed)
    factory = _Factory(rng)
    # Round-robin over a seeded shuffle: every variant shows up once per cycle.
    cycle = list(BAD_VARIANTS)
    rng.shuffle(cycle)
    ncycle = len(cycle)
    valid = factory.valid
    draw = rng.random
    k = 0
    for _ in range(n):
        if draw() < bad_ratio:
            name, kind, build = cycle[k % ncycle]
            k += 1
            yield build(factory), kind, name
        else:
            raw, variant = valid()
            yield raw, "valid", variant


def generate(n: int, *, bad_ratio: float = 0.05, seed: int = 42) -> Iterator[GeneratedRecord]:
    """``n`` records, about ``bad_ratio`` of them bad; the same seed gives the same records."""
    for raw, expected, variant in _stream(n, bad_ratio, seed):
        yield GeneratedRecord(raw, expected, variant)


def write_jsonl(path: Path, n: int, *, bad_ratio: float = 0.05, seed: int = 42) -> dict[str, int]:
    """Stream ``n`` generated records to ``path`` as JSON lines; return the count per outcome."""
    counts: dict[str, int] = dict.fromkeys(EXPECTED_KINDS, 0)
    chunk: list[bytes] = []
    with path.open("wb") as out:
        for raw, expected, _ in _stream(n, bad_ratio, seed):
            chunk.append(raw)
            counts[expected] += 1
            if len(chunk) >= 8192:
                chunk.append(b"")
                out.write(b"\n".join(chunk))
                chunk.clear()
        if chunk:
            chunk.append(b"")
            out.write(b"\n".join(chunk))
    return counts
