"""The HTTP side of authentication (serve_app/auth.py): the 401 challenge, ownership, the client address."""

from __future__ import annotations

import uuid

import pytest
from starlette.requests import Request

from config.settings import Settings
from domain.errors import NotFound, Unauthenticated
from serve_app.auth import client_ip, require_self
from serve_app.errors import status_of
from services.auth import Principal

USER, SESSION = uuid.uuid4(), uuid.uuid4()
SECRET = "unit-test-secret-0123456789abcdef0123456789abcdef"


def test_unauthenticated_carries_the_rfc6750_challenge() -> None:
    given = Unauthenticated("invalid or expired token", token_given=True)
    assert given.headers["WWW-Authenticate"] == 'Bearer realm="stride", error="invalid_token"'
    assert given.code == "invalid_token" and status_of(given) == 401
    missing = Unauthenticated()
    assert (missing.code, missing.headers["WWW-Authenticate"]) == ("unauthorized", 'Bearer realm="stride"')


def test_require_self_allows_me_and_own_id_and_hides_everything_else() -> None:
    me = Principal(user_id=USER, session_id=SESSION, device_id=None)
    assert require_self(me, "me") == USER and require_self(me, str(USER)) == USER and require_self(me, USER) == USER
    for other in (uuid.uuid4(), str(uuid.uuid4()), "not-an-id", "ME", ""):
        with pytest.raises(NotFound) as err:
            require_self(me, other)
        assert status_of(err.value) == 404


def _request(peer: str, *forwarded: str) -> Request:
    """A Starlette request from socket peer `peer`, with one X-Forwarded-For header line per `forwarded` value."""
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 40000)})


def _settings(**kwargs: object) -> Settings:
    return Settings(jwt_secret=SECRET, **kwargs)


def test_client_ip_ignores_forwarded_for_from_an_untrusted_peer() -> None:
    req = _request("10.0.0.1", "203.0.113.9")
    assert client_ip(req, _settings()) == "10.0.0.1"  # default trusted proxies: loopback only
    assert client_ip(req, _settings(trusted_proxies="10.0.0.0/8")) == "203.0.113.9"
    assert client_ip(_request("127.0.0.1", "203.0.113.9"), _settings(trusted_proxies="")) == "127.0.0.1"


def test_client_ip_takes_only_the_entry_the_trusted_ingress_appended() -> None:
    settings = _settings()  # trusted: 127.0.0.1, ::1 (Serve's HAProxy)
    spoofed = _request("127.0.0.1", "1.2.3.4, 203.0.113.9")  # client sent 1.2.3.4, the ingress appended the real one
    assert client_ip(spoofed, settings) == "203.0.113.9"
    # HAProxy's `option forwardfor` adds its own header line after any the client sent
    assert client_ip(_request("127.0.0.1", "1.2.3.4", "5.6.7.8, 9.9.9.9", "203.0.113.9"), settings) == "203.0.113.9"
    # a loopback client is still itself: the entry the ingress appended is 127.0.0.1, not the spoofed one
    assert client_ip(_request("127.0.0.1", "1.2.3.4", "127.0.0.1"), settings) == "127.0.0.1"
    assert client_ip(_request("::1", "198.51.100.7"), settings) == "198.51.100.7"
    assert client_ip(_request("::ffff:127.0.0.1", "::ffff:198.51.100.7"), settings) == "198.51.100.7"
    # no header, or garbage where the ingress's entry should be: the peer (the ingress itself)
    assert client_ip(_request("127.0.0.1"), settings) == "127.0.0.1"
    assert client_ip(_request("127.0.0.1", "1.2.3.4, not-an-ip"), settings) == "127.0.0.1"
