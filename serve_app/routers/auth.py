"""Login (JSON or OAuth 2.0 password grant), refresh-token rotation with reuse detection, logout, token introspection."""
from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from serve_app.errors import ApiError
from serve_app.ratelimit import limit_api, limit_login
from serve_app.resources import Resources, get_resources
from serve_app.schemas.users import LoginRequest, RefreshRequest, TokenPair, WhoAmI
from serve_app.security import (
    CurrentUser, Uploader, as_dict, client_ip, encode_access_token, hash_password, mark_session, needs_rehash,
    new_refresh_token, revoke_session, token_hash, token_response_headers, unauthorized, verify_password,
)
from storage import users as user_store

router = APIRouter(prefix="/auth", tags=["auth"])
Res = Annotated[Resources, Depends(get_resources)]

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_LOGIN_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": LoginRequest.model_json_schema()},
            "application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["grant_type", "username", "password"],
                "properties": {"grant_type": {"type": "string", "enum": ["password"]},
                               "username": {"type": "string", "description": "the account's email"},
                               "password": {"type": "string"}, "scope": {"type": "string"}}}},
        },
    }
}


def _invalid_body(errors: list[dict[str, Any]]) -> ApiError:
    details = [{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", ""),
                "type": e.get("type", "")} for e in errors]
    return ApiError(422, f"invalid request: {', '.join(sorted({d['field'] for d in details}))}", details=details)


async def _login_credentials(request: Request) -> LoginRequest:
    """Email and password from a JSON body or an OAuth 2.0 password-grant form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in _FORM_TYPES:
            form = await request.form()
            grant = form.get("grant_type")
            if grant != "password":
                raise ApiError(400, "grant_type must be 'password'", code="unsupported_grant_type")
            return LoginRequest(email=str(form.get("username") or ""), password=str(form.get("password") or ""))
        try:
            payload = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(400, "body must be JSON or an OAuth 2.0 password-grant form") from None
        if not isinstance(payload, dict):
            raise ApiError(422, "invalid request: body must be an object {email, password}")
        return LoginRequest.model_validate(payload)
    except ValidationError as exc:
        raise _invalid_body(exc.errors(include_url=False)) from None


def _bad_credentials() -> ApiError:
    """The same 401 for an unknown email and a wrong password."""
    return ApiError(401, "invalid email or password", code="invalid_credentials",
                    headers={"WWW-Authenticate": 'Bearer realm="stride"'})


def _token_response(res: Resources, user_id: uuid.UUID, session_id: uuid.UUID, refresh: str) -> JSONResponse:
    body = TokenPair(access_token=encode_access_token(res.settings, user_id, session_id),
                     expires_in=res.settings.access_token_ttl_s, refresh_token=refresh)
    return JSONResponse(body.model_dump(), headers=token_response_headers())


@router.post("/login", response_model=TokenPair, openapi_extra=_LOGIN_BODY_DOC,
             responses={401: {"description": "wrong email or password"}, 429: {"description": "too many attempts"},
                        503: {"description": "rate limiter down: logins refused"}})
async def login(request: Request, res: Res) -> JSONResponse:
    """Exchange email and password for an access token (15 min JWT) and a refresh token. Rate limited per IP and
    per account; if the limiter (Redis) is down, login is refused with 503."""
    creds = await _login_credentials(request)
    await limit_login(res.redis, res.settings, client_ip(request, res.settings), creds.email)
    async with res.pg.connection() as conn:
        row = await user_store.credentials_for_email(conn, creds.email)
    if not await verify_password(res.settings, row["password_hash"] if row else None, creds.password) or row is None:
        raise _bad_credentials()
    refresh = new_refresh_token()
    rehash = await hash_password(res.settings, creds.password) if needs_rehash(res.settings, row["password_hash"]) else None
    async with res.pg.connection() as conn:
        if rehash:
            await user_store.set_password_hash(conn, row["user_id"], rehash)
        session_id = await user_store.create_session(conn, row["user_id"], token_hash(refresh),
                                                     res.settings.refresh_token_ttl_s)
    return _token_response(res, row["user_id"], session_id, refresh)


@router.post("/refresh", response_model=TokenPair,
             responses={401: {"description": "invalid, expired, revoked or reused refresh token"}})
async def refresh(body: RefreshRequest, res: Res) -> JSONResponse:
    """Rotate a refresh token: the old one is consumed; presenting a consumed one revokes its whole session."""
    old_hash = token_hash(body.refresh_token)
    new_token = new_refresh_token()
    reused = None
    async with res.pg.connection() as conn:
        row = await user_store.lock_refresh_token(conn, old_hash)
        if row is None or row["revoked_at"] is not None or row["expired"]:
            raise unauthorized("invalid or expired refresh token")
        if row["used_at"] is not None:
            await user_store.revoke_session(conn, row["session_id"], "refresh_token_reuse")
            reused = row
        else:
            await limit_api(res.redis, res.settings, row["user_id"])  # a 429 here rolls back: the token stays valid
            await user_store.mark_refresh_used(conn, old_hash)
            await user_store.insert_refresh_token(conn, row["session_id"], row["user_id"], token_hash(new_token),
                                                  res.settings.refresh_token_ttl_s)
    if reused is not None:  # committed above; now make every replica see it at once
        await mark_session(res, reused["user_id"], reused["session_id"], active=False)
        raise unauthorized("refresh token reused: the session is revoked")
    return _token_response(res, row["user_id"], row["session_id"], new_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(who: CurrentUser, res: Res) -> Response:
    """Revoke the caller's login session: its access tokens and refresh tokens stop working at once."""
    if who.session_id is None:
        raise ApiError(400, "not a login session")
    await revoke_session(res, who.user_id, who.session_id, "logout")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/whoami", response_model=WhoAmI)
async def whoami(who: Uploader) -> dict[str, Any]:
    """The identity behind an access token or a device token."""
    return as_dict(who)
