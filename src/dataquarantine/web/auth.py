"""How the web UI authenticates people and protects its forms.

* With an API token configured (``DQ_API_TOKEN``), ``/login`` asks for it once. The browser
  then holds a session cookie that is *derived* from the token, never the token itself:
  ``issued.actor.mac`` with ``mac = HMAC-SHA256(key(token), issued.actor)``. The cookie is
  ``HttpOnly`` and ``SameSite=Strict`` (``Secure`` over HTTPS) and lasts
  :data:`SESSION_SECONDS`; changing the token logs everybody out. Mutations always need a
  session; reads need one when reads are protected (on by default when a token is set).
* Every form (and every htmx request) carries a CSRF token that must equal the ``dq_csrf``
  cookie (double submit; the cookie is ``SameSite=Strict`` so another site can neither send nor
  read it), and requests a browser marks ``Sec-Fetch-Site: cross-site`` are refused. This holds
  without a token too: a page on another site must not be able to discard records in a
  server on the reviewer's loopback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "WebAuth",
    "csrf_ok",
    "new_csrf_token",
    "safe_next",
]

SESSION_COOKIE = "dq_session"
CSRF_COOKIE = "dq_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 12 * 3600
_ACTOR_MAX = 64


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """The submitted CSRF token equals the cookie (constant-time)."""
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


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

    def check_token(self, candidate: str) -> bool:
        """``candidate`` is the configured token (constant-time)."""
        if not self.token:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def issue(self, actor: str, *, now: float | None = None) -> str:
        """A session cookie value for ``actor`` (the name shown in history)."""
        issued = int(time.time() if now is None else now)
        body = f"{issued}.{_b64(actor[:_ACTOR_MAX].encode())}"
        mac = hmac.new(self._key(), body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def verify(self, cookie: str | None, *, now: float | None = None) -> str | None:
        """The actor of a valid, unexpired session cookie, else ``None``."""
        if not self.enabled or not cookie:
            return None
        try:
            issued_text, actor_text, mac_text = cookie.split(".")
            body = f"{issued_text}.{actor_text}"
            expected = hmac.new(self._key(), body.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(mac_text)):
                return None
            age = (time.time() if now is None else now) - int(issued_text)
            if not 0 <= age <= SESSION_SECONDS:
                return None
            return _unb64(actor_text).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
