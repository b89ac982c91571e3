"""Tokens and passwords (services/tokens.py, services/passwords.py): JWT encoding and every rejection, opaque
tokens, argon2id hashing. Pure: no service is running."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import jwt
import pytest

from services.compute import inline
from services.passwords import Passwords
from services.tokens import (
    DEVICE_TOKEN_PREFIX,
    AccessTokens,
    InvalidToken,
    is_device_token,
    new_device_token,
    new_refresh_token,
    token_hash,
)

SECRET = "unit-test-secret-0123456789abcdef0123456789abcdef"
TOKENS = AccessTokens(SECRET, "stride", 900)
USER, SESSION = uuid.uuid4(), uuid.uuid4()


def _claims(**over: object) -> dict:
    now = dt.datetime.now(dt.UTC)
    base = {
        "sub": str(USER),
        "sid": str(SESSION),
        "iat": now,
        "exp": now + dt.timedelta(minutes=5),
        "iss": "stride",
        "jti": "j",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _sign(claims: dict, alg: str = "HS256", secret: str | None = None) -> str:
    return jwt.encode(claims, secret or SECRET, algorithm=alg)


def test_access_token_round_trip() -> None:
    token = TOKENS.issue(USER, SESSION)
    assert TOKENS.decode(token) == (USER, SESSION)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 900
    assert set(claims) == {"sub", "sid", "iat", "exp", "iss", "jti"}


def test_each_token_has_its_own_jti() -> None:
    a, b = (jwt.decode(TOKENS.issue(USER, SESSION), options={"verify_signature": False})["jti"] for _ in range(2))
    assert a != b


@pytest.mark.parametrize(
    "token",
    [
        _sign(_claims(exp=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))),
        jwt.encode(_claims(), None, algorithm="none"),
        _sign(_claims(), alg="HS512"),
        _sign(_claims(), secret="another-secret-0123456789abcdef0123456789abcdef"),
        _sign(_claims(sid=None)),
        _sign(_claims(jti=None)),
        _sign(_claims(exp=None)),
        _sign(_claims(iss="evil")),
        _sign(_claims(sub="not-a-uuid")),
        _sign(_claims(sid=12)),
        "",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
    ],
)
def test_bad_tokens_are_rejected(token: str) -> None:
    with pytest.raises(InvalidToken):
        TOKENS.decode(token)


def test_tampered_payload_is_rejected() -> None:
    header, _, signature = TOKENS.issue(USER, SESSION).split(".")
    _, payload, _ = _sign(_claims(sub=str(uuid.uuid4()))).split(".")
    with pytest.raises(InvalidToken):
        TOKENS.decode(f"{header}.{payload}.{signature}")


def test_opaque_tokens_are_random_and_hashed() -> None:
    assert new_refresh_token() != new_refresh_token() and len(new_refresh_token()) >= 43
    device = new_device_token()
    assert device.startswith(DEVICE_TOKEN_PREFIX) and is_device_token(device) and len(token_hash(device)) == 32
    assert token_hash(device) == token_hash(device) != token_hash(new_device_token())
    assert not is_device_token(new_refresh_token())


def test_password_hash_is_argon2id_and_verifies_and_an_unknown_account_does_the_same_work() -> None:
    calls: list[str] = []

    async def counting(fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(getattr(fn, "__name__", "?"))
        return await inline(fn, *args, **kwargs)

    passwords = Passwords(time_cost=1, memory_kib=8192, parallelism=1, offload=counting)

    async def go() -> tuple[str, bool, bool, bool]:
        stored = await passwords.hash("correct horse battery")
        return (
            stored,
            await passwords.verify(stored, "correct horse battery"),
            await passwords.verify(stored, "wrong horse battery"),
            await passwords.verify(None, "correct horse battery"),
        )

    stored, right, wrong, unknown = asyncio.run(go())
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert (right, wrong, unknown) == (True, False, False)
    assert calls.count("_check") == 3  # the unknown account was verified against a dummy hash too
    assert not passwords.needs_rehash(stored)
    assert Passwords(time_cost=2, memory_kib=8192, parallelism=1).needs_rehash(stored)


def test_a_remembered_token_still_expires_at_its_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = AccessTokens(SECRET, "stride", 900)
    token = tokens.issue(USER, SESSION)
    assert tokens.decode(token) == (USER, SESSION)  # checked once, remembered
    later = dt.datetime.now(dt.UTC).timestamp() + 901
    monkeypatch.setattr("services.tokens.time.time", lambda: later)
    with pytest.raises(InvalidToken):
        tokens.decode(token)
    assert token not in tokens._valid  # forgotten: the next use is checked in full again


def test_only_valid_tokens_are_remembered_and_memory_is_bounded() -> None:
    tokens = AccessTokens(SECRET, "stride", 900, remember=3)
    forged = _sign(_claims(), secret="another-secret-0123456789abcdef0123456789ab")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.decode(forged)
    issued = [tokens.issue(USER, SESSION) for _ in range(10)]
    for token in issued:
        assert tokens.decode(token) == (USER, SESSION)
        assert len(tokens._valid) <= 3
    assert forged not in tokens._valid
