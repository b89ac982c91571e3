"""Linked devices: each has its own revocable token that may only upload data for its owner."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from serve_app.auth import CurrentUser, require_self
from serve_app.deps import Accounts
from serve_app.schemas.users import DeviceCreate, DeviceCreated, DevicePublic

router = APIRouter(tags=["devices"])
UserRef = Annotated[str, Path(description="a user id, or `me`", max_length=64)]
_NOT_YOURS = {404: {"description": "no such user or device (or not yours)"}}


@router.post(
    "/users/{user_id}/devices", status_code=status.HTTP_201_CREATED, response_model=DeviceCreated, responses=_NOT_YOURS
)
async def link_device(user_id: UserRef, body: DeviceCreate, who: CurrentUser, accounts: Accounts) -> dict[str, Any]:
    """Link a device; the answer carries its device token, shown this once (only a hash is kept)."""
    row, token = await accounts.link_device(require_self(who, user_id), body.kind, body.external_id, body.name)
    return {**row, "device_token": token}


@router.get("/users/{user_id}/devices", response_model=list[DevicePublic], responses=_NOT_YOURS)
async def list_devices(user_id: UserRef, who: CurrentUser, accounts: Accounts) -> list[dict[str, Any]]:
    """The user's linked devices."""
    return await accounts.devices(require_self(who, user_id))


@router.get("/users/{user_id}/devices/{device_id}", response_model=DevicePublic, responses=_NOT_YOURS)
async def get_device(user_id: UserRef, device_id: uuid.UUID, who: CurrentUser, accounts: Accounts) -> dict[str, Any]:
    """One linked device."""
    return await accounts.device(require_self(who, user_id), device_id)


@router.delete("/users/{user_id}/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_YOURS)
async def unlink_device(user_id: UserRef, device_id: uuid.UUID, who: CurrentUser, accounts: Accounts) -> Response:
    """Unlink a device: its token is refused from now on."""
    await accounts.unlink_device(require_self(who, user_id), device_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
