"""Login (JSON or OAuth 2.0 password grant), refresh-token rotation with reuse detection, logout, who am I."""

from __future__ import annotations

import json
from typing import Any

import pydantic
from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from domain.errors import Invalid, Malformed
from serve_app.auth import CurrentUser, Uploader, as_dict, client_ip, token_response_headers
from serve_app.deps import Auth, Res
from serve_app.errors import invalid_from_pydantic
from serve_app.schemas.users import LoginRequest, RefreshRequest, TokenPair, WhoAmI
from services.auth import TokenPair as Tokens

router = APIRouter(prefix="/auth", tags=["auth"])

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_LOGIN_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "username", "password"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["password"]},
                        "username": {"type": "string", "description": "the account's email"},
                        "password": {"type": "string"},
                        "scope": {"type": "string"},
                    },
                }
            },
        },
    }
}


async def _login_credentials(request: Request) -> LoginRequest:
    """Email and password from a JSON body or an OAuth 2.0 password-grant form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in _FORM_TYPES:
            form = await request.form()
            if form.get("grant_type") != "password":
                raise Malformed("grant_type must be 'password'", code="unsupported_grant_type")
            return LoginRequest(email=str(form.get("username") or ""), password=str(form.get("password") or ""))
        try:
            payload = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise Malformed("body must be JSON or an OAuth 2.0 password-grant form") from None
        if not isinstance(payload, dict):
            raise Invalid.field("body", "must be an object {email, password}")
        return LoginRequest.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise invalid_from_pydantic(exc) from None


def _token_response(pair: Tokens) -> JSONResponse:
    body = TokenPair(access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token)
    return JSONResponse(body.model_dump(), headers=token_response_headers())


@router.post(
    "/login",
    response_model=TokenPair,
    openapi_extra=_LOGIN_BODY_DOC,
    responses={
        401: {"description": "wrong email or password"},
        429: {"description": "too many attempts"},
        503: {"description": "rate limiter down: logins refused"},
    },
)
async def login(request: Request, auth: Auth, res: Res) -> JSONResponse:
    """Exchange email and password for an access token (15 min JWT) and a refresh token. Rate limited per client
    address and per account; if the limiter (Redis) is down, login is refused with 503."""
    creds = await _login_credentials(request)
    return _token_response(await auth.login(creds.email, creds.password, client_ip(request, res.settings)))


@router.post(
    "/refresh",
    response_model=TokenPair,
    responses={401: {"description": "invalid, expired, revoked or reused refresh token"}},
)
async def refresh(body: RefreshRequest, auth: Auth) -> JSONResponse:
    """Rotate a refresh token: the old one is consumed; presenting a consumed one revokes its whole session."""
    return _token_response(await auth.refresh(body.refresh_token))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(who: CurrentUser, auth: Auth) -> Response:
    """Revoke the caller's login session: its access and refresh tokens stop working at once, its sockets close."""
    await auth.logout(who)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/whoami", response_model=WhoAmI)
async def whoami(who: Uploader) -> dict[str, Any]:
    """The identity behind an access token or a device token."""
    return as_dict(who)
