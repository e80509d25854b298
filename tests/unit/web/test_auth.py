from __future__ import annotations

from dataquarantine.web.auth import SESSION_SECONDS, WebAuth, cookie_name, safe_next, same_origin


def test_session_round_trip_and_tampering() -> None:
    auth = WebAuth("s3cret")
    cookie = auth.issue("web:ana", now=1000)
    assert auth.verify(cookie, now=1001) == "web:ana"
    assert "s3cret" not in cookie
    issued, nonce, actor, mac = cookie.split(".")
    assert auth.verify(f"{issued}.{nonce}.{actor}.{mac[:-2]}AA", now=1001) is None
    assert auth.verify(f"{int(issued) + 5}.{nonce}.{actor}.{mac}", now=1001) is None
    assert auth.verify(f"{issued}.x{nonce}.{actor}.{mac}", now=1001) is None
    assert auth.verify(f"{issued}.{actor}.{mac}", now=1001) is None
    assert auth.issue("web:ana", now=1000) != cookie  # every login is its own session
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


def test_csrf_token_is_bound_to_the_session_and_the_key() -> None:
    auth = WebAuth("t")
    token = auth.csrf_token("sid:abc")
    assert auth.csrf_ok("sid:abc", token)
    assert not auth.csrf_ok("sid:abd", token)  # another session
    assert not auth.csrf_ok("sid:abc", "sid:abc")  # the binding itself is not the token
    assert not auth.csrf_ok(None, token)
    assert not auth.csrf_ok("sid:abc", "")
    assert not auth.csrf_ok("sid:abc", None)
    assert not WebAuth("other").csrf_ok("sid:abc", token)  # the key comes from the token
    assert WebAuth("t").csrf_ok("sid:abc", token)  # ... so replicas and restarts agree
    assert not WebAuth().csrf_ok("sid:abc", WebAuth().csrf_token("sid:abc"))  # random key


def test_binding_prefers_a_valid_login_session() -> None:
    auth = WebAuth("t")
    session = auth.issue("web:ann")
    sid = "s" * 43
    assert auth.binding({"dq_sid": sid}, "http") == f"sid:{sid}"
    assert auth.binding({"dq_sid": sid, "dq_session": session}, "http") == f"session:{session}"
    assert auth.binding({"dq_sid": sid, "dq_session": "forged.x.y"}, "http") == f"sid:{sid}"
    assert auth.binding({"dq_sid": "short"}, "http") is None
    # Over HTTPS only the __Host- cookies count.
    assert auth.binding({"dq_sid": sid}, "https") is None
    assert auth.binding({"__Host-dq_sid": sid}, "https") == f"sid:{sid}"
    assert cookie_name("dq_sid", "https") == "__Host-dq_sid"
    assert cookie_name("dq_sid", "http") == "dq_sid"


def _same(origin: str | None = None, referer: str | None = None, site: str | None = None) -> bool:
    return same_origin("http", "127.0.0.1:8000", origin=origin, referer=referer, fetch_site=site)


def test_same_origin_needs_evidence_and_refuses_any_other_origin() -> None:
    assert _same(origin="http://127.0.0.1:8000")
    assert _same(origin="http://127.0.0.1:8000", site="same-origin")
    assert _same(referer="http://127.0.0.1:8000/records/1?x=y")
    assert _same(site="same-origin")
    assert not _same()  # no evidence at all
    assert not _same(origin="http://127.0.0.1:9000")  # another port: same site, not origin
    assert not _same(origin="https://127.0.0.1:8000")  # another scheme
    assert not _same(origin="http://localhost:8000")  # another host name
    assert not _same(origin="null")
    assert not _same(origin="")
    assert not _same(origin="http://127.0.0.1:8000", site="same-site")
    assert not _same(origin="http://127.0.0.1:8000", site="cross-site")
    assert not _same(origin="http://127.0.0.1:8000", site="none")
    assert not _same(referer="http://127.0.0.1:9000/evil")
    assert not _same(origin="http://127.0.0.1:9000", referer="http://127.0.0.1:8000/")
    assert same_origin(
        "http", "testserver", origin="http://testserver:80", referer=None, fetch_site=None
    )
    assert not same_origin("http", None, origin="http://x", referer=None, fetch_site=None)


def test_safe_next_refuses_other_hosts() -> None:
    assert safe_next("/records?x=1") == "/records?x=1"
    for bad in ("https://evil.example/", "//evil.example", "/\\evil", "", None, "records"):
        assert safe_next(bad) == "/"
