"""The statement check: what SQL a gate may send to the server, decided before it is sent.

A gate may send exactly one read-only query: ``SELECT``, ``WITH ... SELECT``, ``VALUES`` or
``TABLE``. The text is tokenised the way PostgreSQL reads it (comments removed; string
literals, dollar-quoted strings and quoted identifiers kept whole), so ``'COPY'`` inside a
string is data while ``/* */COPY`` is the keyword. Refused, with the construct named:

- a second statement (any ``;``), and every keyword that only a non-query statement or a
  writing query uses (``COPY``, ``DO``, ``CALL``, ``SET``, ``INSERT`` in a CTE, ``SELECT
  INTO``, ``FOR UPDATE``/``FOR SHARE``, ...);
- calls to functions that read server files, run dynamic SQL, signal or lock other sessions,
  change settings, sleep or touch replication (:data:`DENIED_FUNCTIONS`,
  :data:`DENIED_PREFIXES`), however spelled: any case, quoted, schema-qualified.

The check is a first line; the runner also runs every gate as a role that may only read (see
``docs/gates.md``, "Security model"). Nothing here touches a database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from dataquarantine.errors import UnsafeSqlError

__all__ = [
    "DENIED_FUNCTIONS",
    "DENIED_PREFIXES",
    "Token",
    "check_condition",
    "check_query",
    "tokenize",
]

TokenKind = Literal["word", "ident", "string", "number", "param", "op", "punct"]


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: ``word`` is lower-cased (an unquoted keyword or name), ``ident`` a
    quoted identifier as written, ``string`` a literal's raw text."""

    kind: TokenKind
    text: str
    pos: int


#: Statements a gate's query may start with.
_QUERY_STARTS: Final = frozenset({"select", "with", "values", "table"})

#: Keywords no read-only query needs: each belongs to another statement, a data-modifying
#: CTE, ``SELECT INTO`` or a locking clause. A column with such a name must be quoted. (Other
#: statements, e.g. ``LOCK`` or ``VACUUM``, are refused by the first-word check.)
_DENIED_KEYWORDS: Final = frozenset(
    {
        "abort", "alter", "begin", "call", "commit", "copy", "create", "deallocate", "declare",
        "delete", "discard", "do", "drop", "execute", "grant", "insert", "into", "listen",
        "merge", "notify", "prepare", "reset", "revoke", "rollback", "savepoint", "set",
        "truncate", "unlisten", "update",
    }
)  # fmt: skip

#: Functions a gate may never call (compared lower-cased, on the last part of the name).
DENIED_FUNCTIONS: Final = frozenset(
    {
        # settings, signals, configuration
        "set_config", "pg_reload_conf", "pg_rotate_logfile", "pg_promote",
        "pg_log_backend_memory_contexts", "pg_current_logfile", "pg_import_system_collations",
        # sequences and transaction ids (they write or assign an id)
        "nextval", "setval", "pg_current_xact_id", "pg_current_xact_id_if_assigned",
        "pg_export_snapshot",
        # large objects
        "loread", "lowrite",
        # functions that run SQL given as text
        "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "ts_stat",
        # WAL, backups, replication
        "pg_switch_wal", "pg_create_restore_point", "pg_backup_start", "pg_backup_stop",
        "pg_start_backup", "pg_stop_backup",
        # the adminpack extension
        "pg_logdir_ls",
    }
)  # fmt: skip

#: Families of functions refused by prefix (``pg_ls_dir``, ``pg_ls_waldir``, ``lo_export``, ...).
DENIED_PREFIXES: Final = (
    "pg_read_",  # pg_read_file, pg_read_binary_file
    "pg_ls_",
    "pg_stat_file",
    "pg_stat_reset",
    "pg_file_",  # adminpack: pg_file_write, pg_file_rename, pg_file_unlink, ...
    "lo_",  # lo_import, lo_export, lo_unlink, lo_create, lo_put, ...
    "pg_terminate_",
    "pg_cancel_",
    "pg_advisory",
    "pg_try_advisory",
    "pg_sleep",
    "dblink",
    "pg_notify",
    "txid_",
    "pg_logical_",
    "pg_replication_",
    "pg_create_",  # replication slots
    "pg_drop_replication",
    "pg_copy_",  # pg_copy_physical_replication_slot, ...
    "pg_wal_replay_",
    "cursor_to_xml",
    "table_to_xml",
    "schema_to_xml",
    "database_to_xml",
    "binary_upgrade_",
)

_WORD_START = re.compile(r"[A-Za-z_\u0080-\uffff]")
_WORD = re.compile(r"[A-Za-z0-9_$\u0080-\uffff]*")
_NUMBER = re.compile(r"(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?")
_PARAM = re.compile(r"\$\d+")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")
_OP_CHARS = "+-*/<>=~!@#%^&|`?"
_PUNCT = "(),;[].:"
#: Letters that prefix a string literal: E'..', B'..', X'..', N'..'.
_STRING_PREFIXES = frozenset("eEbBxXnN")


def _unterminated(what: str, pos: int) -> UnsafeSqlError:
    return UnsafeSqlError(f"unterminated {what} at character {pos + 1}", construct=what)


def _skip_block_comment(text: str, start: int) -> int:
    """The index after the ``/* ... */`` starting at ``start`` (they nest in PostgreSQL)."""
    depth, i = 0, start
    while i < len(text):
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
            if depth == 0:
                return i
        else:
            i += 1
    raise _unterminated("comment", start)


def _quoted(text: str, start: int, quote: str, *, backslash: bool) -> int:
    """The index after the quoted run opening at ``start`` (a doubled quote is one quote)."""
    i = start + 1
    while i < len(text):
        c = text[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == quote:
            if text.startswith(quote, i + 1):
                i += 2
                continue
            return i + 1
        i += 1
    raise _unterminated("quoted identifier" if quote == '"' else "string literal", start)


def tokenize(text: str) -> list[Token]:
    """PostgreSQL's lexical view of ``text``, without comments (standard conforming strings,
    as the runner sets them). UnsafeSqlError for an unterminated string, comment or quote, and
    for Unicode-escaped identifiers (``U&"..."``), which would hide a name."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            i = _skip_block_comment(text, i)
        elif c == "'":
            end = _quoted(text, i, "'", backslash=False)
            tokens.append(Token("string", text[i:end], i))
            i = end
        elif c in _STRING_PREFIXES and text.startswith("'", i + 1):
            end = _quoted(text, i + 1, "'", backslash=c in "eE")
            tokens.append(Token("string", text[i:end], i))
            i = end
        elif text[i : i + 2].lower() == "u&" and text.startswith(("'", '"'), i + 2):
            if text[i + 2] == '"':
                raise UnsafeSqlError(
                    'a Unicode-escaped identifier (U&"...") is not allowed in a gate',
                    construct='U&"..."',
                )
            end = _quoted(text, i + 2, "'", backslash=False)
            tokens.append(Token("string", text[i:end], i))
            i = end
        elif c == '"':
            end = _quoted(text, i, '"', backslash=False)
            tokens.append(Token("ident", text[i + 1 : end - 1].replace('""', '"'), i))
            i = end
        elif c == "$":
            if m := _PARAM.match(text, i):
                tokens.append(Token("param", m.group(), i))
                i = m.end()
            elif m := _DOLLAR_TAG.match(text, i):
                end = text.find(m.group(), m.end())
                if end < 0:
                    raise _unterminated("dollar-quoted string", i)
                end += len(m.group())
                tokens.append(Token("string", text[i:end], i))
                i = end
            else:
                tokens.append(Token("op", c, i))
                i += 1
        elif _WORD_START.match(c):
            word = _WORD.match(text, i + 1)
            stop = word.end() if word else i + 1
            tokens.append(Token("word", text[i:stop].lower(), i))
            i = stop
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _NUMBER.match(text, i)
            stop = m.end() if m else i + 1
            tokens.append(Token("number", text[i:stop], i))
            i = stop
        elif c in _PUNCT:
            tokens.append(Token("punct", c, i))
            i += 1
        elif c in _OP_CHARS:
            j = i
            while j < n and text[j] in _OP_CHARS and not text.startswith(("--", "/*"), j):
                j += 1
            tokens.append(Token("op", text[i:j], i))
            i = j
        else:
            raise UnsafeSqlError(f"unexpected character {c!r} at character {i + 1}", construct=c)
    return tokens


def _denied_function(name: str) -> bool:
    return name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES)


def _check_tokens(tokens: list[Token]) -> None:
    for index, token in enumerate(tokens):
        if token.kind == "punct" and token.text == ";":
            raise UnsafeSqlError(
                "multiple statements: a gate runs exactly one statement; remove the ';'",
                construct="multiple statements",
            )
        if token.kind == "word" and token.text in _DENIED_KEYWORDS:
            keyword = token.text.upper()
            raise UnsafeSqlError(
                f"{keyword} is not allowed in a gate: a gate runs one read-only query "
                f'(a column named {token.text!r} must be written as a quoted identifier "...")',
                construct=keyword,
            )
        if token.kind == "word" and token.text == "for" and index + 1 < len(tokens):
            following = tokens[index + 1]
            if following.kind == "word" and following.text in ("share", "key", "no"):
                raise UnsafeSqlError(
                    "a locking clause (FOR UPDATE / FOR SHARE) is not allowed in a gate",
                    construct=f"FOR {following.text.upper()}",
                )
        if token.kind in ("word", "ident") and index + 1 < len(tokens):
            following = tokens[index + 1]
            name = token.text.lower()
            if following.kind == "punct" and following.text == "(" and _denied_function(name):
                raise UnsafeSqlError(
                    f"function {name}() is not allowed in a gate (it reaches beyond reading "
                    "the database: files, other sessions, settings, locks or dynamic SQL)",
                    construct=f"{name}()",
                )


def check_query(text: str) -> None:
    """Refuse (UnsafeSqlError) unless ``text`` is a single read-only query."""
    tokens = tokenize(text)
    first = next((t for t in tokens if not (t.kind == "punct" and t.text == "(")), None)
    if first is None:
        raise UnsafeSqlError("a gate's SQL is empty", construct="empty")
    if first.kind != "word" or first.text not in _QUERY_STARTS:
        shown = first.text.upper() if first.kind == "word" else first.text
        raise UnsafeSqlError(
            f"a gate runs one query (SELECT, WITH ... SELECT, VALUES or TABLE), not {shown!r}",
            construct=shown,
        )
    _check_tokens(tokens)


def check_condition(text: str) -> None:
    """Refuse (UnsafeSqlError) a ``where:`` condition that is not one self-contained
    expression: unbalanced parentheses, or anything :func:`check_query` refuses."""
    tokens = tokenize(text)
    depth = 0
    for token in tokens:
        if token.kind == "punct" and token.text in "()":
            depth += 1 if token.text == "(" else -1
            if depth < 0:
                break
    if depth != 0:
        raise UnsafeSqlError(
            "a where: condition must have balanced parentheses", construct="unbalanced ')'"
        )
    _check_tokens(tokens)
