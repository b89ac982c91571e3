"""Pure security pieces: JWT encoding and every rejection, ownership check, client IP, password hashing."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import jwt
import pytest
from starlette.requests import Request

from config.settings import Settings
from serve_app.errors import ApiError
from serve_app.security import (
    DEVICE_TOKEN_PREFIX, InvalidToken, Principal, client_ip, decode_access_token, encode_access_token, hash_password,
    new_device_token, new_refresh_token, require_self, token_hash, unauthorized, verify_password,
)

SETTINGS = Settings(jwt_secret="unit-test-secret-0123456789abcdef0123456789abcdef", argon2_memory_kib=8192,
                    argon2_time_cost=1)
USER, SESSION = uuid.uuid4(), uuid.uuid4()


def _claims(**over: object) -> dict:
    now = dt.datetime.now(dt.timezone.utc)
    base = {"sub": str(USER), "sid": str(SESSION), "iat": now, "exp": now + dt.timedelta(minutes=5),
            "iss": SETTINGS.jwt_issuer, "jti": "j"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _sign(claims: dict, alg: str = "HS256", secret: str | None = None) -> str:
    return jwt.encode(claims, secret or SETTINGS.jwt_secret.get_secret_value(), algorithm=alg)


def test_access_token_round_trip() -> None:
    token = encode_access_token(SETTINGS, USER, SESSION)
    assert decode_access_token(SETTINGS, token) == (USER, SESSION)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == SETTINGS.access_token_ttl_s
    assert set(claims) == {"sub", "sid", "iat", "exp", "iss", "jti"}


def test_each_token_has_its_own_jti() -> None:
    a, b = (jwt.decode(encode_access_token(SETTINGS, USER, SESSION), options={"verify_signature": False})["jti"]
            for _ in range(2))
    assert a != b


@pytest.mark.parametrize("token", [
    _sign(_claims(exp=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))),
    jwt.encode(_claims(), None, algorithm="none"),
    _sign(_claims(), alg="HS512"),
    _sign(_claims(), secret="another-secret-0123456789abcdef0123456789abcdef"),
    _sign(_claims(sid=None)), _sign(_claims(jti=None)), _sign(_claims(exp=None)), _sign(_claims(iss="evil")),
    _sign(_claims(sub="not-a-uuid")), _sign(_claims(sid=12)),
    "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.",
])
def test_bad_tokens_are_rejected(token: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, token)


def test_tampered_payload_is_rejected() -> None:
    header, _, signature = encode_access_token(SETTINGS, USER, SESSION).split(".")
    _, payload, _ = _sign(_claims(sub=str(uuid.uuid4()))).split(".")
    with pytest.raises(InvalidToken):
        decode_access_token(SETTINGS, f"{header}.{payload}.{signature}")


def test_unauthorized_carries_the_rfc6750_challenge() -> None:
    assert unauthorized().headers["WWW-Authenticate"] == 'Bearer realm="stride", error="invalid_token"'
    missing = unauthorized(token_given=False)
    assert (missing.status, missing.headers["WWW-Authenticate"]) == (401, 'Bearer realm="stride"')


def test_require_self_allows_me_and_own_id_and_hides_everything_else() -> None:
    me = Principal(user_id=USER, session_id=SESSION, device_id=None)
    assert require_self(me, "me") == USER and require_self(me, str(USER)) == USER and require_self(me, USER) == USER
    for other in (uuid.uuid4(), str(uuid.uuid4()), "not-an-id", "ME", ""):
        with pytest.raises(ApiError) as err:
            require_self(me, other)
        assert err.value.status == 404


def _request(peer: str, *forwarded: str) -> Request:
    """A Starlette request from socket peer `peer`, with one X-Forwarded-For header line per `forwarded` value."""
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 40000)})


def test_client_ip_ignores_forwarded_for_from_an_untrusted_peer() -> None:
    req = _request("10.0.0.1", "203.0.113.9")
    assert client_ip(req, Settings()) == "10.0.0.1"  # default trusted proxies: loopback only
    assert client_ip(req, Settings(trusted_proxies="10.0.0.0/8")) == "203.0.113.9"
    assert client_ip(_request("127.0.0.1", "203.0.113.9"), Settings(trusted_proxies="")) == "127.0.0.1"


def test_client_ip_takes_only_the_entry_the_trusted_ingress_appended() -> None:
    settings = Settings()  # trusted: 127.0.0.1, ::1 (Serve's HAProxy)
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


def test_opaque_tokens_are_random_and_hashed() -> None:
    assert new_refresh_token() != new_refresh_token() and len(new_refresh_token()) >= 43
    device = new_device_token()
    assert device.startswith(DEVICE_TOKEN_PREFIX) and len(token_hash(device)) == 32
    assert token_hash(device) == token_hash(device) != token_hash(new_device_token())


def test_password_hash_is_argon2id_and_verifies() -> None:
    async def go() -> tuple[str, bool, bool, bool]:
        stored = await hash_password(SETTINGS, "correct horse battery")
        return (stored, await verify_password(SETTINGS, stored, "correct horse battery"),
                await verify_password(SETTINGS, stored, "wrong horse battery"),
                await verify_password(SETTINGS, None, "correct horse battery"))

    stored, right, wrong, unknown = asyncio.run(go())
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert (right, wrong, unknown) == (True, False, False)
