"""DEPRECATED compatibility names, kept only until their last importers move (then this module is deleted).

Security was split by job: passwords in services/passwords.py, tokens in services/tokens.py, sessions in
services/sessions.py, the use cases in services/auth.py, and the HTTP dependencies (bearer parser, CurrentUser,
Uploader, require_self, client_ip) in serve_app/auth.py. Import from there; a raw token (a WebSocket's) becomes a
Principal with `get_resources().auth.authenticate(token, allow_device=..., charge=...)`.
"""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from config.settings import Settings
from serve_app.auth import (
    BearerToken,
    CurrentUser,
    Uploader,
    as_dict,
    bearer_scheme,
    client_ip,
    require_self,
    token_response_headers,
)
from services.auth import Principal
from services.tokens import AccessTokens


async def principal_from_token(res: Any, token: str | None, *, allow_device: bool) -> Principal:
    """DEPRECATED: `res.auth.authenticate(token, allow_device=..., charge=False)` (no rate-limit token taken,
    as before)."""
    return await res.auth.authenticate(token, allow_device=allow_device, charge=False)  # type: ignore[no-any-return]


def encode_access_token(settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID,
                        now: dt.datetime | None = None) -> str:
    """DEPRECATED: services.tokens.AccessTokens(...).issue (tests forging tokens)."""
    return AccessTokens(settings.jwt_secret.get_secret_value(), settings.jwt_issuer,
                        settings.access_token_ttl_s).issue(user_id, session_id, now)


__all__ = ["BearerToken", "CurrentUser", "Principal", "Uploader", "as_dict", "bearer_scheme", "client_ip",
           "encode_access_token", "principal_from_token", "require_self", "token_response_headers"]
