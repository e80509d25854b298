"""Masking of credentials in text shown to people: messages, logs, pages, probe bodies.

:func:`mask_secrets` is the one function every surface uses. It replaces with ``***``:

* the password of a URL's user info (``scheme://user:PW@host``; the user name stays);
* the value of every query or ``key=value`` parameter whose name, percent-decoded and in any
  case, contains a :data:`SECRET_KEY_MARKERS` entry: libpq's ``password=`` and
  ``sslpassword=``, S3's ``aws_secret_access_key=`` / ``aws_session_token=`` and presigned
  ``X-Amz-Signature=`` / ``X-Amz-Credential=`` / ``X-Amz-Security-Token=``, Kafka's
  ``sasl.password=``, any ``*token*`` or ``*secret*`` (``key='quoted value'`` too);
* every literal occurrence, raw or percent-decoded, of a secret found in the ``sources``
  given (the URLs a driver was handed), so a driver message that echoes one is masked too.

Paths that only *name* a secret (``passfile=``, ``sslkey=``, ``sslcert=``) are kept: they help
diagnose and reveal nothing by themselves.
"""

from __future__ import annotations

import logging
import re
from typing import Final
from urllib.parse import unquote, urlsplit

__all__ = [
    "MASK",
    "SECRET_KEY_MARKERS",
    "MaskingFilter",
    "is_secret_key",
    "mask_logging",
    "mask_secrets",
]

MASK: Final = "***"

#: A parameter whose (lower-cased, percent-decoded) name contains one of these is a secret.
SECRET_KEY_MARKERS: Final = (
    "password",
    "passwd",
    "secret",
    "token",
    "signature",
    "credential",
    "apikey",
    "api_key",
    "sasl.jaas.config",
    "ssl.key.pem",
)

# scheme://user:password@ : the password runs to the *last* '@' of the word, because people
# leave '@', '/' and '+' unencoded in passwords (AWS secret keys contain '/' and '+'). A word
# with an '@' in its query after a port is over-masked, which is the safe side.
_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^\s:/?#@]*:[^\s]*|[^\s/?#]*)@"
)
# name=value after a start, '?', '&', ';', whitespace, a quote or a comma; the value is a
# single-quoted string (libpq conninfo) or runs to the next separator.
_PARAM = re.compile(
    r"(?P<lead>(?:^|[?&;\s,\"'(\[{]))(?P<key>[A-Za-z0-9_.%\-]+)(?P<eq>\s*=(?!=)\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'?|[^&\s#,;\"')\]}]*)"
)


def is_secret_key(name: str) -> bool:
    """``name`` (a URL query parameter, a conninfo keyword, a client property) is a secret."""
    low = unquote(name).lower()
    return any(marker in low for marker in SECRET_KEY_MARKERS)


def _mask_userinfo(match: re.Match[str]) -> str:
    info = match["info"]
    user, sep, _password = info.partition(":")
    if not sep:
        return match.group(0)
    return f"{match['scheme']}{user}:{MASK}@"


def _mask_param(match: re.Match[str]) -> str:
    if not is_secret_key(match["key"]) or not match["value"]:
        return match.group(0)
    return f"{match['lead']}{match['key']}{match['eq']}{MASK}"


def _secrets_of(source: str) -> set[str]:
    """The secret values carried by ``source`` (a URL or conninfo), raw and decoded."""
    found: set[str] = set()
    try:
        password = urlsplit(source).password
    except ValueError:
        password = None
    if password:
        found.add(password)
    for match in _USERINFO.finditer(source):
        _user, sep, raw = match["info"].partition(":")
        if sep and raw:
            found.add(raw)
    for match in _PARAM.finditer(source):
        if is_secret_key(match["key"]) and match["value"]:
            found.add(match["value"].strip("'"))
    out = set()
    for value in found:
        out.update({value, unquote(value), unquote(value.replace("+", " "))})
    # Very short values would mask ordinary words; the patterns above still cover them.
    return {v for v in out if len(v) >= 4}


def mask_secrets(text: object, *sources: str) -> str:
    """``text`` (``str()`` of it) with every credential masked; see the module docstring."""
    out = str(text)
    literal: set[str] = set()
    for source in sources:
        if source:
            literal |= _secrets_of(source)
    for value in sorted(literal, key=len, reverse=True):
        out = out.replace(value, MASK)
    out = _USERINFO.sub(_mask_userinfo, out)
    return _PARAM.sub(_mask_param, out)


def _mask_arg(value: object) -> object:
    return mask_secrets(value) if isinstance(value, str | BaseException) else value


class MaskingFilter(logging.Filter):
    """A handler filter that masks credentials in every record it passes (message, arguments
    and exception text), for the handlers the commands configure."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_mask_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _mask_arg(v) for k, v in record.args.items()}
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            formatter = logging.Formatter()
            record.exc_text = mask_secrets(formatter.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_secrets(record.exc_text)
        return True


def mask_logging(logger: logging.Logger | None = None) -> None:
    """Add a :class:`MaskingFilter` to every handler of ``logger`` (the root by default)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
