"""Authentication and access control in one place: passwords, access/refresh/device tokens, the principal, ownership.

- Passwords: argon2id (parameters from settings), hashed and verified in a worker thread.
- Access tokens: HS256 JWTs (sub, sid, iat, exp, iss, jti); decoding pins the algorithm, so `alg: none` fails.
  A token is valid only while its login session (`sid`) is not revoked: cached in Redis `u:{uid}:sess:{sid}`.
- Refresh tokens and device tokens: opaque random strings, stored as sha256 only.
- `CurrentUser` (access token) and `Uploader` (access or device token) also apply the per-user API rate limit.
- `require_self`: another user's resource is 404, exactly like a missing one.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request, Response
from fastapi.security import OAuth2PasswordBearer

from config.settings import Settings
from serve_app.errors import ApiError
from serve_app.ratelimit import STATE_KEY as RATE_STATE_KEY, limit_api
from serve_app.resources import Resources, get_resources
from storage import users as user_store
from storage.redis_store import REDIS_ERRORS

log = logging.getLogger("stride.security")

DEVICE_TOKEN_PREFIX = "sdt_"
_SESSION_ACTIVE = b"1"
_SESSION_REVOKED = b"0"

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/login", auto_error=False,
    description="Access token from /auth/login; upload routes also take a device token (sdt_...).",
)


# ---------------------------------------------------------------- passwords

@functools.lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)


def password_hasher(settings: Settings) -> PasswordHasher:
    """The argon2id hasher for the settings' parameters."""
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism)


@functools.lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_urlsafe(16))


def _verify_sync(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(settings: Settings, password: str) -> str:
    """argon2id hash of a password, computed off the event loop."""
    return await asyncio.to_thread(password_hasher(settings).hash, password)


async def verify_password(settings: Settings, stored: str | None, password: str) -> bool:
    """True if password matches; an unknown user (stored None) costs a verification against a dummy hash."""
    hasher = password_hasher(settings)
    if stored is None:
        dummy = await asyncio.to_thread(_dummy_hash, settings.argon2_time_cost, settings.argon2_memory_kib,
                                        settings.argon2_parallelism)
        await asyncio.to_thread(_verify_sync, hasher, dummy, password)
        return False
    return await asyncio.to_thread(_verify_sync, hasher, stored, password)


def needs_rehash(settings: Settings, stored: str) -> bool:
    """True if a stored hash was made with other parameters than the current settings."""
    return password_hasher(settings).check_needs_rehash(stored)


# ---------------------------------------------------------------- opaque tokens

def token_hash(token: str) -> bytes:
    """sha256 of an opaque token: what the database stores."""
    return hashlib.sha256(token.encode()).digest()


def new_refresh_token() -> str:
    """A fresh opaque refresh token (256 random bits)."""
    return secrets.token_urlsafe(32)


def new_device_token() -> str:
    """A fresh opaque device token, recognisable by its prefix."""
    return DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)


# ---------------------------------------------------------------- access tokens (JWT)

class InvalidToken(Exception):
    """The access token is malformed, forged, expired or for another issuer."""


def encode_access_token(settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID,
                        now: dt.datetime | None = None) -> str:
    """A signed HS256 access token for a login session."""
    issued = now or dt.datetime.now(dt.timezone.utc)
    claims = {"sub": str(user_id), "sid": str(session_id), "iat": issued,
              "exp": issued + dt.timedelta(seconds=settings.access_token_ttl_s), "iss": settings.jwt_issuer,
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


def decode_access_token(settings: Settings, token: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(user_id, session_id) of a valid access token; InvalidToken otherwise (only HS256 is ever accepted)."""
    try:
        claims = jwt.decode(token, settings.jwt_secret.get_secret_value(), algorithms=["HS256"],
                            issuer=settings.jwt_issuer,
                            options={"require": ["sub", "sid", "iat", "exp", "iss", "jti"]})
        return uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"]))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(type(exc).__name__) from exc


# ---------------------------------------------------------------- principal and errors

@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a login session or through one of their devices."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None
    device_id: uuid.UUID | None


def unauthorized(message: str = "invalid or expired token", *, token_given: bool = True) -> ApiError:
    """401 with the RFC 6750 challenge (error="invalid_token" when a token was presented)."""
    challenge = 'Bearer realm="stride", error="invalid_token"' if token_given else 'Bearer realm="stride"'
    return ApiError(401, message, code="invalid_token" if token_given else "unauthorized",
                    headers={"WWW-Authenticate": challenge})


def not_found(what: str = "resource") -> ApiError:
    """The one answer for both a missing resource and another user's resource."""
    return ApiError(404, f"{what} not found")


def require_self(principal: Principal, user_id: uuid.UUID | str) -> uuid.UUID:
    """The user id a route may act on: 'me' or the caller's own id; anyone else's (or garbage) is 404."""
    if isinstance(user_id, str):
        if user_id == "me":
            return principal.user_id
        try:
            user_id = uuid.UUID(user_id)
        except ValueError:
            raise not_found() from None
    if user_id != principal.user_id:
        raise not_found()
    return user_id


# ---------------------------------------------------------------- session revocation

def session_cache_key(user_id: uuid.UUID, session_id: uuid.UUID) -> str:
    """Redis key caching whether a login session is active."""
    return f"u:{user_id}:sess:{session_id}"


async def _cached_session_state(res: Resources, key: str) -> tuple[bytes | None, bool]:
    """(cached value, whether Redis answered)."""
    try:
        return await res.redis.get(key), True
    except REDIS_ERRORS as exc:
        log.debug("session cache unavailable: %s", exc)
        return None, False


async def mark_session(res: Resources, user_id: uuid.UUID, session_id: uuid.UUID, active: bool) -> None:
    """Overwrite the cached state of a session (revocation is visible to every replica at once)."""
    ttl = res.settings.session_cache_ttl_s if active else res.settings.access_token_ttl_s + 60
    try:
        await res.redis.set(session_cache_key(user_id, session_id), _SESSION_ACTIVE if active else _SESSION_REVOKED,
                            ex=ttl)
    except REDIS_ERRORS as exc:
        log.warning("could not cache session %s state: %s", session_id, exc)


async def session_is_active(res: Resources, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Is the login session alive? Redis first, Postgres on a miss (a vanished session is never cached)."""
    cached, redis_up = await _cached_session_state(res, session_cache_key(user_id, session_id))
    if cached is not None:
        return cached == _SESSION_ACTIVE
    async with res.pg.connection() as conn:
        state = await user_store.session_state(conn, session_id, user_id)
    if state is None:
        return False
    if redis_up:  # do not wait on a dead Redis twice per request
        await mark_session(res, user_id, session_id, active=state)
    return state


async def revoke_session(res: Resources, user_id: uuid.UUID, session_id: uuid.UUID, reason: str) -> None:
    """Revoke a login session (its refresh-token family and its access tokens) in Postgres and the cache."""
    async with res.pg.connection() as conn:
        await user_store.revoke_session(conn, session_id, reason)
    await mark_session(res, user_id, session_id, active=False)


# ---------------------------------------------------------------- dependencies

Res = Annotated[Resources, Depends(get_resources)]
BearerToken = Annotated[str | None, Depends(bearer_scheme)]


def _set_headers(request: Request, response: Response, headers: dict[str, str]) -> None:
    """On the dependency's Response (model-returning routes) and in request.state for RateLimitHeadersMiddleware."""
    for name, value in headers.items():
        response.headers[name] = value
    setattr(request.state, RATE_STATE_KEY, headers)


async def _from_access_token(res: Resources, token: str) -> Principal:
    try:
        user_id, session_id = decode_access_token(res.settings, token)
    except InvalidToken:
        raise unauthorized() from None
    if not await session_is_active(res, user_id, session_id):
        raise unauthorized("token revoked")
    return Principal(user_id=user_id, session_id=session_id, device_id=None)


async def _from_device_token(res: Resources, token: str) -> Principal:
    async with res.pg.connection() as conn:
        device = await user_store.device_for_token(conn, token_hash(token))
    if device is None:
        raise unauthorized("invalid or revoked device token")
    return Principal(user_id=device["user_id"], session_id=None, device_id=device["device_id"])


async def _rate_limited(res: Resources, request: Request, response: Response, principal: Principal) -> Principal:
    result = await limit_api(res.redis, res.settings, principal.user_id)
    if result is not None:
        _set_headers(request, response, result.headers())
    return principal


async def current_user(res: Res, request: Request, response: Response, token: BearerToken) -> Principal:
    """The caller of a route that needs a user's access token (device tokens are refused)."""
    if not token:
        raise unauthorized("authentication required", token_given=False)
    if token.startswith(DEVICE_TOKEN_PREFIX):
        raise unauthorized("device tokens may only upload data")
    return await _rate_limited(res, request, response, await _from_access_token(res, token))


async def current_uploader(res: Res, request: Request, response: Response, token: BearerToken) -> Principal:
    """The caller of an upload route: a user's access token or one of their device tokens (acting as the owner)."""
    if not token:
        raise unauthorized("authentication required", token_given=False)
    if token.startswith(DEVICE_TOKEN_PREFIX):
        principal = await _from_device_token(res, token)
    else:
        principal = await _from_access_token(res, token)
    return await _rate_limited(res, request, response, principal)


CurrentUser = Annotated[Principal, Depends(current_user)]
Uploader = Annotated[Principal, Depends(current_uploader)]


def client_ip(request: Request, settings: Settings) -> str:
    """The caller's IP address, trusting exactly one hop: the ingress.

    When the socket peer is a trusted proxy (STRIDE_TRUSTED_PROXIES; Serve's HAProxy connects from loopback), the
    client is the rightmost X-Forwarded-For entry, the one HAProxy's `option forwardfor` appended; everything left
    of it was sent by the client and is ignored. From any other peer the header is ignored: the peer is the client.
    """
    import ipaddress

    def parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            addr = ipaddress.ip_address(value.strip())
        except ValueError:
            return None
        mapped = getattr(addr, "ipv4_mapped", None)  # ::ffff:a.b.c.d is a.b.c.d
        return mapped or addr

    peer = parse(request.client.host) if request.client else None
    if peer is None:
        return request.client.host if request.client else "unknown"
    if any(peer in net for net in settings.trusted_proxy_networks()):
        lines = request.headers.getlist("x-forwarded-for")
        forwarded = parse(lines[-1].split(",")[-1]) if lines else None
        if forwarded is not None:
            return str(forwarded)
    return str(peer)


def token_response_headers() -> dict[str, str]:
    """RFC 6749 §5.1: token responses must not be cached."""
    return {"Cache-Control": "no-store", "Pragma": "no-cache"}


def as_dict(principal: Principal) -> dict[str, Any]:
    """JSON view of a principal."""
    return {"user_id": principal.user_id, "session_id": principal.session_id, "device_id": principal.device_id}


async def principal_from_token(res: Resources, token: str | None, *, allow_device: bool) -> Principal:
    """Authenticate a raw token outside a route dependency (WebSockets); 401 ApiError when it is not valid."""
    if not token:
        raise unauthorized("authentication required", token_given=False)
    if token.startswith(DEVICE_TOKEN_PREFIX):
        if not allow_device:
            raise unauthorized("device tokens may only upload data")
        return await _from_device_token(res, token)
    return await _from_access_token(res, token)
