from __future__ import annotations

from dataquarantine.web.auth import SESSION_SECONDS, WebAuth, csrf_ok, new_csrf_token, safe_next


def test_session_round_trip_and_tampering() -> None:
    auth = WebAuth("s3cret")
    cookie = auth.issue("web:ana", now=1000)
    assert auth.verify(cookie, now=1001) == "web:ana"
    assert "s3cret" not in cookie
    issued, actor, mac = cookie.split(".")
    assert auth.verify(f"{issued}.{actor}.{mac[:-2]}AA", now=1001) is None
    assert auth.verify(f"{int(issued) + 5}.{actor}.{mac}", now=1001) is None
    assert auth.verify("garbage", now=1001) is None
    assert auth.verify(None) is None


def test_session_expires_and_dies_with_the_token() -> None:
    cookie = WebAuth("a").issue("web:x", now=0)
    assert WebAuth("a").verify(cookie, now=SESSION_SECONDS + 1) is None
    assert WebAuth("b").verify(cookie, now=1) is None


def test_read_protection_defaults_to_on_with_a_token() -> None:
    assert not WebAuth(None).enabled
    assert not WebAuth(None).reads_protected
    assert WebAuth("t").reads_protected
    assert not WebAuth("t", read_requires_token=False).reads_protected
    assert not WebAuth(None, read_requires_token=True).reads_protected


def test_token_check() -> None:
    assert WebAuth("t").check_token("t")
    assert not WebAuth("t").check_token("T")
    assert not WebAuth(None).check_token("")


def test_csrf() -> None:
    token = new_csrf_token()
    assert csrf_ok(token, token)
    assert not csrf_ok(token, new_csrf_token())
    assert not csrf_ok(None, token)
    assert not csrf_ok(token, "")


def test_safe_next_refuses_other_hosts() -> None:
    assert safe_next("/records?x=1") == "/records?x=1"
    for bad in ("https://evil.example/", "//evil.example", "/\\evil", "", None, "records"):
        assert safe_next(bad) == "/"
