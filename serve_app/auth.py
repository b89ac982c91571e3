"""Authentication on the HTTP side: the one bearer parser, the route dependencies, ownership and the client address.

- `bearer_scheme`: FastAPI's OAuth2PasswordBearer (it reads `Authorization: Bearer ...` and documents the password
  flow in OpenAPI); the token then goes to `services.auth.AuthService.admit`, the one place a token becomes a
  Principal (WebSockets call `AuthService.authenticate` with the token they received another way).
- `CurrentUser` (an access token) and `Uploader` (an access token or a device token) authenticate the caller and
  take one token from their API rate-limit bucket (one Redis round trip); the X-RateLimit-* headers ride on the
  response (serve_app.ratelimit.RateLimitHeadersMiddleware).
- `require_self`: another user's resource is 404, exactly like a missing one.
- `client_ip`: the caller's address, trusting exactly one hop (the ingress).
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import OAuth2PasswordBearer

from config.settings import Settings
from domain.errors import NotFound
from serve_app.deps import Auth
from serve_app.ratelimit import STATE_KEY as RATE_STATE_KEY
from services.auth import Admission, Principal

bearer_scheme = OAuth2PasswordBearer(
    tokenUrl="/auth/login",
    auto_error=False,
    description="Access token from /auth/login; upload routes also take a device token (sdt_...).",
)
BearerToken = Annotated[str | None, Depends(bearer_scheme)]


def _with_rate_headers(request: Request, response: Response, admission: Admission) -> Principal:
    """The bucket's X-RateLimit-* headers on the dependency's Response (routes returning models) and in the request
    state (for the middleware: responses built by the route or an error handler)."""
    if admission.rate is not None:
        headers = admission.rate.headers()
        for name, value in headers.items():
            response.headers[name] = value
        setattr(request.state, RATE_STATE_KEY, headers)
    return admission.principal


async def current_user(auth: Auth, request: Request, response: Response, token: BearerToken) -> Principal:
    """The caller of a route that needs a user's own access token (device tokens are refused)."""
    return _with_rate_headers(request, response, await auth.admit(token, allow_device=False))


async def current_uploader(auth: Auth, request: Request, response: Response, token: BearerToken) -> Principal:
    """The caller of an upload route: a user's access token, or one of their device tokens (acting as the owner)."""
    return _with_rate_headers(request, response, await auth.admit(token, allow_device=True))


CurrentUser = Annotated[Principal, Depends(current_user)]
Uploader = Annotated[Principal, Depends(current_uploader)]


def require_self(principal: Principal, user_id: uuid.UUID | str) -> uuid.UUID:
    """The user id a route may act on: 'me' or the caller's own id; anyone else's (or garbage) is 404."""
    if isinstance(user_id, str):
        if user_id == "me":
            return principal.user_id
        try:
            user_id = uuid.UUID(user_id)
        except ValueError:
            raise NotFound("resource") from None
    if user_id != principal.user_id:
        raise NotFound("resource")
    return user_id


def client_ip(request: Request, settings: Settings) -> str:
    """The caller's IP address, trusting exactly one hop: the ingress.

    When the socket peer is a trusted proxy (STRIDE_TRUSTED_PROXIES; Serve's HAProxy connects from loopback), the
    client is the rightmost X-Forwarded-For entry, the one HAProxy's `option forwardfor` appended; everything left
    of it was sent by the client and is ignored. From any other peer the header is ignored: the peer is the client.
    """

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
