"""Accounts: registration, the profile, erasure. Routes parse, call one service function, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status

from serve_app.auth import CurrentUser, client_ip, require_self
from serve_app.deps import Accounts, Erasure, Res
from serve_app.schemas.users import REGISTRATION_ACCEPTED, RegistrationAccepted, UserCreate, UserPublic, UserUpdate

router = APIRouter(tags=["users"])
UserRef = Annotated[str, Path(description="a user id, or `me`", max_length=64)]


@router.post(
    "/users",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RegistrationAccepted,
    responses={
        422: {"description": "invalid field"},
        429: {"description": "too many registrations from this address, or from everyone"},
        503: {"description": "rate limiter down: registrations refused"},
    },
)
async def register(body: UserCreate, request: Request, accounts: Accounts, res: Res) -> dict[str, Any]:
    """Create an account (no token needed), then log in with the same email and password. The answer is the same
    whether or not the email already had an account (which is then left untouched), so it tells nobody which
    addresses are registered. The password is stored only as an argon2id hash."""
    await accounts.register(body.to_new_user(), client_ip(request, res.settings))
    return REGISTRATION_ACCEPTED


@router.get("/users/me", response_model=UserPublic)
async def get_me(who: CurrentUser, accounts: Accounts) -> dict[str, Any]:
    """The caller's own account."""
    return await accounts.profile(who.user_id)


@router.get(
    "/users/{user_id}", response_model=UserPublic, responses={404: {"description": "no such user (or not yours)"}}
)
async def get_user(user_id: UserRef, who: CurrentUser, accounts: Accounts) -> dict[str, Any]:
    """A user's account: only your own (anyone else's is 404)."""
    return await accounts.profile(require_self(who, user_id))


@router.patch(
    "/users/{user_id}", response_model=UserPublic, responses={404: {"description": "no such user (or not yours)"}}
)
async def update_user(user_id: UserRef, body: UserUpdate, who: CurrentUser, accounts: Accounts) -> dict[str, Any]:
    """Change profile, time zone, heart-rate settings or preferences (null clears an optional field)."""
    return await accounts.update_profile(require_self(who, user_id), body.profile_changes(), body.preference_changes())


@router.delete(
    "/users/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        404: {"description": "no such user (or not yours)"},
        503: {"description": "a live-workout shard is restarting: nothing was deleted, retry"},
    },
)
async def delete_user(user_id: UserRef, who: CurrentUser, erasure: Erasure) -> Response:
    """Erase the account and all of its data in every store; its tokens stop working and its sockets close."""
    await erasure.erase(require_self(who, user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
