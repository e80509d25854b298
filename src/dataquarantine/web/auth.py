"""How the web UI authenticates people and protects its forms.

* With an API token configured (``DQ_API_TOKEN``), ``/login`` asks for it once. The browser
  then holds a session cookie that is *derived* from the token, never the token itself:
  ``issued.nonce.actor.mac`` with ``mac = HMAC-SHA256(key(token), issued.nonce.actor)``. The
  cookie is ``HttpOnly`` and ``SameSite=Strict`` (``Secure`` over HTTPS) and lasts
  :data:`SESSION_SECONDS`; changing the token logs everybody out. Mutations always need a
  session; reads need one when reads are protected (on by default when a token is set).
* Every unsafe request (``POST``, ``PUT``, ``PATCH``, ``DELETE``) must prove it comes from the
  UI's own origin (:func:`same_origin`): ``Sec-Fetch-Site`` must be ``same-origin`` when sent,
  ``Origin`` (or, without it, ``Referer``) must be this server's scheme, host *and port*, and
  a request with none of the three is refused. Another port of the same host is the same
  *site* for a browser (it may send and even set this server's cookies) but never the same
  origin, so it is refused here.
* Every form (and every htmx request) also carries a CSRF token bound to the browser's
  session: ``HMAC-SHA256(csrf key, session)``, where the session is the login cookie when the
  person is logged in, else a random ``dq_sid`` cookie. A page that can set cookies on this
  host (another port) still cannot compute the token of the victim's session, and a
  logged-in session's token cannot be had without that session's cookie. The CSRF key is
  derived from the API token (so every replica and restart agrees), else random per process.
* Over HTTPS the cookies carry the ``__Host-`` prefix (``Secure``, ``Path=/``, no domain), so
  no plain-HTTP page and no other host name can set them. Browsers refuse that prefix over
  plain HTTP, so on ``http://127.0.0.1`` the cookies keep their plain names: there the
  origin check and the session binding are the defence.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "SID_COOKIE",
    "WebAuth",
    "cookie_name",
    "new_session_id",
    "safe_next",
    "same_origin",
]

SESSION_COOKIE = "dq_session"
#: The random id of a browser that is not logged in (the CSRF token's binding then).
SID_COOKIE = "dq_sid"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 12 * 3600
_ACTOR_MAX = 64
_HOST_PREFIX = "__Host-"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def cookie_name(base: str, scheme: str) -> str:
    """``base`` with the ``__Host-`` prefix over HTTPS (browsers refuse it over plain HTTP)."""
    return f"{_HOST_PREFIX}{base}" if scheme == "https" else base


def _origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an absolute http(s) URL, else ``None``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def same_origin(
    scheme: str,
    host: str | None,
    *,
    origin: str | None,
    referer: str | None,
    fetch_site: str | None,
) -> bool:
    """Whether an unsafe request shows it comes from ``scheme://host`` (this server, ``host``
    being the request's ``Host`` header). Evidence, strongest first: ``Sec-Fetch-Site`` (set
    by the browser, never by a page), ``Origin`` (``null`` is refused), ``Referer``. Any
    evidence of another origin refuses; no evidence at all refuses too."""
    if not host:
        return False
    own = _origin(f"{scheme}://{host}")
    if own is None:
        return False
    if fetch_site is not None and fetch_site.strip().lower() != "same-origin":
        return False
    if origin is not None:
        return _origin(origin.strip()) == own
    if referer is not None:
        return _origin(referer.strip()) == own
    return fetch_site is not None


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to after login (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class WebAuth:
    """The UI's view of the API token: who may read, who may change records."""

    token: str | None = None
    #: ``None``: reads are protected exactly when a token is set.
    read_requires_token: bool | None = None
    #: The CSRF key when there is no token (random per process).
    _fallback_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.token)

    @property
    def reads_protected(self) -> bool:
        if not self.enabled:
            return False
        return True if self.read_requires_token is None else self.read_requires_token

    def _key(self) -> bytes:
        assert self.token
        return hashlib.sha256(b"dataquarantine-web-session\0" + self.token.encode()).digest()

    def _csrf_key(self) -> bytes:
        if not self.token:
            return self._fallback_key
        return hashlib.sha256(b"dataquarantine-web-csrf\0" + self.token.encode()).digest()

    def csrf_token(self, binding: str) -> str:
        """The CSRF token of the session ``binding`` (the login cookie, or the browser id)."""
        mac = hmac.new(self._csrf_key(), b"csrf\0" + binding.encode(), hashlib.sha256)
        return _b64(mac.digest())

    def csrf_ok(self, binding: str | None, submitted: str | None) -> bool:
        """``submitted`` is the CSRF token of ``binding`` (constant-time)."""
        if not binding or not submitted:
            return False
        expected = self.csrf_token(binding).encode()
        return hmac.compare_digest(expected, submitted.encode("utf-8", "replace"))

    def binding(self, cookies: Mapping[str, str], scheme: str) -> str | None:
        """What the CSRF token of a request is bound to: its valid login session, else its
        browser id (``None``: it has neither yet)."""
        session = cookies.get(cookie_name(SESSION_COOKIE, scheme))
        if session and self.verify(session) is not None:
            return f"session:{session}"
        sid = cookies.get(cookie_name(SID_COOKIE, scheme))
        if sid and 20 <= len(sid) <= 100:
            return f"sid:{sid}"
        return None

    def check_token(self, candidate: str) -> bool:
        """``candidate`` is the configured token (constant-time)."""
        if not self.token:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def issue(self, actor: str, *, now: float | None = None) -> str:
        """A session cookie value for ``actor`` (the name shown in history); a random nonce
        makes every login a distinct session (the CSRF token is bound to it)."""
        issued = int(time.time() if now is None else now)
        body = f"{issued}.{secrets.token_urlsafe(16)}.{_b64(actor[:_ACTOR_MAX].encode())}"
        mac = hmac.new(self._key(), body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def verify(self, cookie: str | None, *, now: float | None = None) -> str | None:
        """The actor of a valid, unexpired session cookie, else ``None``."""
        if not self.enabled or not cookie:
            return None
        try:
            issued_text, nonce, actor_text, mac_text = cookie.split(".")
            body = f"{issued_text}.{nonce}.{actor_text}"
            expected = hmac.new(self._key(), body.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac_text)):
                return None
            age = (time.time() if now is None else now) - int(issued_text)
            if not 0 <= age <= SESSION_SECONDS:
                return None
            return _unb64(actor_text).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
