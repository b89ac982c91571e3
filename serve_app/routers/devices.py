"""Linked devices: each has its own revocable token that may only upload data for its owner."""
from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response, status

from serve_app.resources import Resources, get_resources
from serve_app.schemas.users import DeviceCreate, DeviceCreated, DevicePublic
from serve_app.security import CurrentUser, new_device_token, not_found, require_self, token_hash
from storage import users as user_store

router = APIRouter(tags=["devices"])
Res = Annotated[Resources, Depends(get_resources)]
UserRef = Annotated[str, Path(description="a user id, or `me`", max_length=64)]
_NOT_YOURS = {404: {"description": "no such user or device (or not yours)"}}


@router.post("/users/{user_id}/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceCreated,
             responses=_NOT_YOURS)
async def link_device(user_id: UserRef, body: DeviceCreate, who: CurrentUser, res: Res) -> dict[str, Any]:
    """Link a device; the answer carries its device token, shown this once (only a hash is kept)."""
    target = require_self(who, user_id)
    token = new_device_token()
    async with res.pg.connection() as conn:
        row = await user_store.insert_device(conn, target, body.kind, body.external_id, body.name, token_hash(token))
    return {**row, "device_token": token}


@router.get("/users/{user_id}/devices", response_model=list[DevicePublic], responses=_NOT_YOURS)
async def list_devices(user_id: UserRef, who: CurrentUser, res: Res) -> list[dict[str, Any]]:
    """The user's linked devices."""
    target = require_self(who, user_id)
    async with res.pg.connection() as conn:
        return await user_store.list_devices(conn, target)


@router.get("/users/{user_id}/devices/{device_id}", response_model=DevicePublic, responses=_NOT_YOURS)
async def get_device(user_id: UserRef, device_id: uuid.UUID, who: CurrentUser, res: Res) -> dict[str, Any]:
    """One linked device."""
    target = require_self(who, user_id)
    async with res.pg.connection() as conn:
        row = await user_store.get_device(conn, target, device_id)
    if row is None:
        raise not_found("device")
    return row


@router.delete("/users/{user_id}/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_YOURS)
async def unlink_device(user_id: UserRef, device_id: uuid.UUID, who: CurrentUser, res: Res) -> Response:
    """Unlink a device: its token is refused from now on."""
    target = require_self(who, user_id)
    async with res.pg.connection() as conn:
        if not await user_store.revoke_device(conn, target, device_id):
            raise not_found("device")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
