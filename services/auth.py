"""Authentication use cases: login, refresh-token rotation, logout, and who is behind a token.

- Login: rate limited per client address and per account (fail closed), the same 401 for an unknown email and a
  wrong password (the same argon2 work too), a new login session with its first refresh token.
- Refresh: the presented refresh token is consumed and a new one issued in the same session; presenting a consumed
  one (a stolen copy, or the real client after a thief) revokes the whole session.
- Logout: revokes the caller's session.
- `authenticate(token)`: the one place a bearer token becomes a Principal, for HTTP routes (serve_app/auth.py) and
  for anything else that holds a token (WebSockets: the token from Sec-WebSocket-Protocol or a first message).

Revocations (logout, refresh reuse, account deletion) are announced on `stride:revocations` so the socket hubs
close the affected sockets (services.sessions.SessionGuard.revoke).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from domain.accounts import normalize_email
from domain.errors import Malformed, Unauthenticated
from domain.ratelimit import BucketResult
from services.passwords import Passwords
from services.ports import UnitOfWorkFactory
from services.ratelimits import Limiter, RateLimits, api_bucket, login_buckets
from services.sessions import SessionGuard
from services.tokens import AccessTokens, InvalidToken, is_device_token, new_refresh_token, token_hash

LOGOUT, REFRESH_REUSE, ACCOUNT_DELETED = "logout", "refresh_reuse", "account_deleted"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a login session or through one of their linked devices."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None = None
    device_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Admission:
    """An authenticated caller and what their rate-limit bucket said (None: Redis down, not counted)."""

    principal: Principal
    rate: BucketResult | None


@dataclass(frozen=True)
class TokenPair:
    """What a login or a refresh returns."""

    access_token: str
    refresh_token: str
    expires_in: int


def bad_credentials() -> Unauthenticated:
    """The same 401 for an unknown email and a wrong password."""
    return Unauthenticated("invalid email or password", code="invalid_credentials")


class AuthService:
    """Login, refresh, logout, authenticate."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        passwords: Passwords,
        tokens: AccessTokens,
        guard: SessionGuard,
        limiter: Limiter,
        limits: RateLimits,
        refresh_ttl_s: int,
    ) -> None:
        self.uow = uow
        self.passwords = passwords
        self.tokens = tokens
        self.guard = guard
        self.limiter = limiter
        self.limits = limits
        self.refresh_ttl_s = refresh_ttl_s

    # ------------------------------------------------------------------ login, refresh, logout

    async def login(self, email: str, password: str, client_ip: str) -> TokenPair:
        """Exchange email and password for a token pair. RateLimited per address and per account; Unavailable
        when the limiter (Redis) is down (fail closed); Unauthenticated for a wrong email or password."""
        await self.limiter.require(
            login_buckets(self.limits, client_ip, email),
            ["login attempts from this address", "login attempts for this account"],
            refused="login is temporarily unavailable, retry later",
        )
        async with self.uow() as uow:
            row = await uow.users.credentials(normalize_email(email))
        ok = await self.passwords.verify(row["password_hash"] if row else None, password)
        if row is None or not ok:
            raise bad_credentials()
        rehash = await self.passwords.hash(password) if self.passwords.needs_rehash(row["password_hash"]) else None
        refresh = new_refresh_token()
        async with self.uow() as uow:
            if rehash is not None:
                await uow.users.set_password_hash(row["user_id"], rehash)
            session_id = await uow.sessions.create(row["user_id"], token_hash(refresh), self.refresh_ttl_s)
            await uow.commit()
        await self.guard.started(row["user_id"], session_id)
        return self._pair(row["user_id"], session_id, refresh)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token. Unauthenticated if unknown, expired or revoked; a reused one revokes its
        session. The user's API rate limit applies (a 429 leaves the token valid)."""
        old = token_hash(refresh_token)
        new = new_refresh_token()
        async with self.uow() as uow:
            row = await uow.sessions.lock_refresh(old)
            if row is None or row["revoked_at"] is not None or row["expired"]:
                raise Unauthenticated("invalid or expired refresh token", token_given=True)
            user_id, session_id = row["user_id"], row["session_id"]
            reused = row["used_at"] is not None
            if reused:
                await uow.sessions.revoke(session_id, REFRESH_REUSE)
            else:
                await self.limiter.charge(api_bucket(self.limits, user_id))  # raises before anything is written
                await uow.sessions.mark_refresh_used(old)
                await uow.sessions.add_refresh(session_id, user_id, token_hash(new), self.refresh_ttl_s)
            await uow.commit()
        if reused:
            await self.guard.revoke(user_id, session_id, REFRESH_REUSE)
            raise Unauthenticated("refresh token reused: the session is revoked", token_given=True)
        return self._pair(user_id, session_id, new)

    async def logout(self, principal: Principal) -> None:
        """Revoke the caller's login session: its access and refresh tokens stop working everywhere."""
        if principal.session_id is None:
            raise Malformed("not a login session")
        async with self.uow() as uow:
            await uow.sessions.revoke(principal.session_id, LOGOUT)
            await uow.commit()
        await self.guard.revoke(principal.user_id, principal.session_id, LOGOUT)

    def _pair(self, user_id: uuid.UUID, session_id: uuid.UUID, refresh: str) -> TokenPair:
        return TokenPair(
            access_token=self.tokens.issue(user_id, session_id), refresh_token=refresh, expires_in=self.tokens.ttl_s
        )

    # ------------------------------------------------------------------ who is calling

    async def admit(self, token: str | None, *, allow_device: bool = False, cost: int = 1) -> Admission:
        """Authenticate a bearer token and take `cost` tokens from the user's API bucket (one Redis round trip
        for an access token; cost 0 takes none). Unauthenticated for a missing, malformed, forged, expired or
        revoked token, or a device token where only a user's own token will do; RateLimited when the bucket is
        empty."""
        if not token:
            raise Unauthenticated("authentication required")
        if is_device_token(token):
            if not allow_device:
                raise Unauthenticated("device tokens may only upload data", token_given=True)
            principal = await self._device(token)
            rate = await self.limiter.charge(api_bucket(self.limits, principal.user_id, cost)) if cost else None
            return Admission(principal, rate)
        try:
            user_id, session_id = self.tokens.decode(token)
        except InvalidToken:
            raise Unauthenticated("invalid or expired token", token_given=True) from None
        rate = await self.guard.admit(user_id, session_id, api_bucket(self.limits, user_id, cost) if cost else None)
        return Admission(Principal(user_id, session_id), rate)

    async def authenticate(self, token: str | None, *, allow_device: bool = False, charge: bool = True) -> Principal:
        """The Principal behind a bearer token, counted against its user's API rate limit unless charge=False.
        Framework-free: for WebSockets and anything else that receives a raw token (Unauthenticated, RateLimited,
        and Unavailable only if Postgres is down)."""
        return (await self.admit(token, allow_device=allow_device, cost=1 if charge else 0)).principal

    async def still_valid(self, principal: Principal) -> bool:
        """Is this principal's session (or device) still good? No rate-limit token is taken: for re-checking a
        long-lived connection."""
        if principal.session_id is not None:
            return await self.guard.is_active(principal.user_id, principal.session_id)
        async with self.uow() as uow:
            devices = await uow.devices.list(principal.user_id)
        return any(d["device_id"] == principal.device_id for d in devices)

    async def charge(self, user_id: uuid.UUID, cost: int = 1) -> BucketResult | None:
        """Count `cost` requests against a user's API bucket (socket messages count like HTTP requests):
        RateLimited when empty, None when Redis is down (fail open)."""
        return await self.limiter.charge(api_bucket(self.limits, user_id, cost))

    async def _device(self, token: str) -> Principal:
        async with self.uow() as uow:
            device = await uow.devices.by_token(token_hash(token))
            await uow.commit()  # last_used_at
        if device is None:
            raise Unauthenticated("invalid or revoked device token", token_given=True)
        return Principal(device["user_id"], None, device["device_id"])
