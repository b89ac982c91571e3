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
import uuid

import jwt

DEVICE_TOKEN_PREFIX = "sdt_"
_REQUIRED_CLAIMS = ["sub", "sid", "iat", "exp", "iss", "jti"]


class InvalidToken(Exception):
    """An access token that is malformed, forged, expired or for another issuer."""


class AccessTokens:
    """Issue and check access tokens with one secret, issuer and lifetime."""

    def __init__(self, secret: str, issuer: str, ttl_s: int) -> None:
        self._secret = secret
        self.issuer = issuer
        self.ttl_s = ttl_s

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
        try:
            claims = jwt.decode(
                token, self._secret, algorithms=["HS256"], issuer=self.issuer, options={"require": _REQUIRED_CLAIMS}
            )
            return uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"]))
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(type(exc).__name__) from exc


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
