"""Accounts: registration, profile read/update, and erasure of everything a user has."""
from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from serve_app.erasure import erase_account
from serve_app.errors import ApiError
from serve_app.resources import Resources, get_resources
from serve_app.schemas.users import UserCreate, UserPublic, UserUpdate
from storage.activities import add_event
from serve_app.security import CurrentUser, hash_password, not_found, require_self
from storage import users as user_store

STATS_FIELDS = {"timezone", "max_hr", "resting_hr", "sex", "birth_year"}

router = APIRouter(tags=["users"])
Res = Annotated[Resources, Depends(get_resources)]
UserRef = Annotated[str, Path(description="a user id, or `me`", max_length=64)]


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic,
             responses={409: {"description": "email already registered"}, 422: {"description": "invalid field"}})
async def register(body: UserCreate, res: Res) -> dict[str, Any]:
    """Create an account (no token needed). The password is stored only as an argon2id hash."""
    password_hash = await hash_password(res.settings, body.password)
    profile = body.model_dump(exclude={"email", "password", "preferences"})
    try:
        async with res.pg.connection() as conn:
            return await user_store.insert_user(conn, uuid.uuid4(), str(body.email), password_hash, profile,
                                                body.preferences.model_dump())
    except user_store.EmailTaken:
        raise ApiError(409, "an account with this email already exists", code="email_taken") from None


async def _load(res: Resources, user_id: uuid.UUID) -> dict[str, Any]:
    """The user's row, or 404."""
    async with res.pg.connection() as conn:
        row = await user_store.get_user(conn, user_id)
    if row is None:
        raise not_found("user")
    return row


@router.get("/users/me", response_model=UserPublic)
async def get_me(who: CurrentUser, res: Res) -> dict[str, Any]:
    """The caller's own account."""
    return await _load(res, who.user_id)


@router.get("/users/{user_id}", response_model=UserPublic, responses={404: {"description": "no such user (or not yours)"}})
async def get_user(user_id: UserRef, who: CurrentUser, res: Res) -> dict[str, Any]:
    """A user's account: only your own (anyone else's is 404)."""
    return await _load(res, require_self(who, user_id))


@router.patch("/users/{user_id}", response_model=UserPublic, responses={404: {"description": "no such user (or not yours)"}})
async def update_user(user_id: UserRef, body: UserUpdate, who: CurrentUser, res: Res) -> dict[str, Any]:
    """Change profile, time zone, heart-rate settings or preferences (null clears an optional field)."""
    target = require_self(who, user_id)
    changes = body.profile_changes()
    async with res.pg.connection() as conn:
        current = await user_store.get_user(conn, target, for_update=True)
        if current is None:
            raise not_found("user")
        max_hr = changes.get("max_hr", current["max_hr"])
        resting_hr = changes.get("resting_hr", current["resting_hr"])
        if max_hr is not None and resting_hr is not None and resting_hr >= max_hr:
            raise ApiError(422, "invalid request: resting_hr", details=[
                {"field": "resting_hr", "message": "resting_hr must be below max_hr", "type": "value_error"}])
        updated = await user_store.update_user(conn, target, changes, body.preference_changes())
        if changes.keys() & STATS_FIELDS:  # the user's stats regroup by timezone / recompute training load
            await add_event(conn, "user_updated", target, target, {"fields": sorted(changes.keys() & STATS_FIELDS)})
        return updated


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={404: {"description": "no such user (or not yours)"}})
async def delete_user(user_id: UserRef, who: CurrentUser, res: Res) -> Response:
    """Erase the account and all of its data in every store; every token of the account stops working."""
    target = require_self(who, user_id)
    if not await erase_account(res, target):
        raise not_found("user")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
