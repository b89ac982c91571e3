"""Tokens: signed access tokens (JWT) and opaque refresh and device tokens.

- Access tokens: HS256 JWTs with sub (user), sid (login session), iat, exp, iss, jti. Decoding pins the algorithm
  and requires every claim, so `alg: none`, another algorithm, a missing claim or another issuer all fail. A valid
  signature is not enough: the session must also be active (services.sessions).
- Refresh and device tokens: 256 random bits, stored only as their sha256; device tokens carry a prefix so the
  bearer parser can tell them apart without a lookup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
import uuid

import jwt

DEVICE_TOKEN_PREFIX = "sdt_"
_REQUIRED_CLAIMS = ["sub", "sid", "iat", "exp", "iss", "jti"]


class InvalidToken(Exception):
    """An access token that is malformed, forged, expired or for another issuer."""


class AccessTokens:
    """Issue and check access tokens with one secret, issuer and lifetime.

    A token whose signature and claims were checked once is remembered (bounded, until its `exp`), so a client's
    next requests skip the HMAC and the claim checks (measured: ~9% of an authenticated cached read's CPU). Only
    valid tokens are remembered; expiry is checked on every use; whether the session is still active is never
    cached here (services.sessions asks Redis on every request).
    """

    def __init__(self, secret: str, issuer: str, ttl_s: int, remember: int = 10_000) -> None:
        self._secret = secret
        self.issuer = issuer
        self.ttl_s = ttl_s
        self._remember = remember
        self._valid: dict[str, tuple[uuid.UUID, uuid.UUID, float]] = {}

    def issue(self, user_id: uuid.UUID, session_id: uuid.UUID, now: dt.datetime | None = None) -> str:
        """A signed access token for a login session."""
        issued = now or dt.datetime.now(dt.UTC)
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": issued,
            "exp": issued + dt.timedelta(seconds=self.ttl_s),
            "iss": self.issuer,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def decode(self, token: str) -> tuple[uuid.UUID, uuid.UUID]:
        """(user_id, session_id) of a valid token; InvalidToken otherwise (only HS256 is ever accepted)."""
        known = self._valid.get(token)
        if known is not None:
            if time.time() < known[2]:
                return known[0], known[1]
            del self._valid[token]
            raise InvalidToken("ExpiredSignatureError")
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], issuer=self.issuer, options={"require": _REQUIRED_CLAIMS}
            )
            user_id, session_id = uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"]))
            exp = float(claims["exp"])
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(type(exc).__name__) from exc
        if len(self._valid) >= self._remember:
            self._valid.clear()  # bounded: a burst of new tokens costs one HMAC each again, never unbounded memory
        self._valid[token] = (user_id, session_id, exp)
        return user_id, session_id


def token_hash(token: str) -> bytes:
    """sha256 of an opaque token: what the database stores."""
    return hashlib.sha256(token.encode()).digest()


def new_refresh_token() -> str:
    """A fresh opaque refresh token."""
    return secrets.token_urlsafe(32)


def new_device_token() -> str:
    """A fresh opaque device token, recognisable by its prefix."""
    return DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)


def is_device_token(token: str) -> bool:
    """True for a device token (by its prefix; whether it is valid is the database's answer)."""
    return token.startswith(DEVICE_TOKEN_PREFIX)
