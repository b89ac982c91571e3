"""Activities: upload, read, streams, list, edit, delete. Routes parse, call one service function, answer."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse

from domain.errors import Invalid, Malformed
from domain.splits import DeviceLap
from domain.streams import STREAM_KEYS
from domain.strength import StrengthSet
from serve_app.auth import CurrentUser, Uploader, require_self
from serve_app.conditional import IfNoneMatch, answer
from serve_app.deps import Activities
from serve_app.schemas.activities import ActivityCreated, ActivityPage, ActivityPublic, ActivityType, ActivityUpdate
from serve_app.schemas.samples import decode_upload, to_track
from services.activities import NewActivity
from services.compute import offload

router = APIRouter(tags=["activities"])


def _etag(version: int) -> str:
    return f'"{version}"'


def _parse_if_match(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise Malformed('If-Match must be an activity version, e.g. "3"') from exc


def new_activity(raw: bytes, idempotency_key: str | None) -> NewActivity:
    """Decode an upload body (either wire form) into the service's command; CPU work, run off the event loop.
    The fingerprint that tells a retry from a different request is the sha256 of the (decoded) body bytes."""
    body = decode_upload(raw)
    track, _ = to_track(body.data_points, body.streams, body.start_time)
    return NewActivity(
        sport=body.type,
        start_time=body.start_time,
        fingerprint=hashlib.sha256(raw).hexdigest(),
        track=track,
        client_id=body.client_id or idempotency_key,
        name=body.name,
        notes=body.notes,
        visibility=body.visibility,
        duration=body.duration,
        distance=body.distance,
        calories=body.calories,
        laps=[DeviceLap(lap.start, lap.end) for lap in body.laps],
        sets=[StrengthSet(s.exercise, s.reps, s.weight_kg, s.rpe, s.rest_s) for s in body.sets],
    )


@router.post(
    "/activities",
    status_code=status.HTTP_201_CREATED,
    response_model=ActivityCreated,
    responses={
        200: {"model": ActivityCreated, "description": "a retry of an upload already stored"},
        409: {"description": "client id reused for a different activity"},
        413: {"description": "body or number of points over the limit"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActivityCreate"}}},
        }
    },
)
async def upload_activity(
    who: Uploader,
    request: Request,
    svc: Activities,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> JSONResponse:
    """Upload a whole activity (points or columnar streams, a manual entry, or strength sets); gzip or zstd bodies
    welcome. The caller is authenticated before a byte of the body is read. Retries with the same client id are
    safe: 201 the first time, 200 with the same id after."""
    new = await offload(new_activity, await request.body(), idempotency_key)
    activity_id, created = await svc.upload(who.user_id, new)
    return JSONResponse(
        {"activity_id": str(activity_id), "status": "saved"},
        status_code=201 if created else 200,
        headers={"Location": f"/activities/{activity_id}"},
    )


@router.get(
    "/activities/{activity_id}",
    response_model=ActivityPublic,
    responses={304: {"description": "not modified: `If-None-Match` names the current version's ETag"}},
)
async def get_activity(
    activity_id: uuid.UUID, who: CurrentUser, svc: Activities, if_none_match: IfNoneMatch = None
) -> Response:
    """One activity with its full summary (laps, splits, best efforts, zones, route); its ETag is its version."""
    return answer(await svc.document(who.user_id, activity_id), if_none_match)


@router.get("/activities/{activity_id}/streams")
async def get_streams(
    activity_id: uuid.UUID,
    who: CurrentUser,
    svc: Activities,
    keys: Annotated[
        str, Query(max_length=200, description="comma-separated stream keys")
    ] = "time,latlng,distance,altitude,heartrate",
    resolution: str = Query("high", pattern="^(low|medium|high)$"),
) -> dict[str, Any]:
    """Per-point streams (Strava's keys); low and medium are downsampled."""
    wanted = list(dict.fromkeys(k.strip() for k in keys.split(",") if k.strip()))
    unknown = sorted(set(wanted) - set(STREAM_KEYS))
    if unknown or not wanted:
        raise Invalid(
            f"unknown stream keys: {', '.join(unknown) or '(none given)'}",
            details=[{"field": "keys", "message": f"allowed: {', '.join(STREAM_KEYS)}", "type": "value_error"}],
        )
    return await svc.streams(who.user_id, activity_id, wanted, resolution)


@router.get(
    "/users/{user_id}/activities",
    response_model=ActivityPage,
    responses={304: {"description": "not modified: `If-None-Match` names this page's current ETag"}},
)
async def list_activities(
    user_id: Annotated[str, Path(max_length=64, description="a user id, or `me`")],
    who: CurrentUser,
    svc: Activities,
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=100_000),
    before: dt.datetime | None = None,
    after: dt.datetime | None = None,
    type: ActivityType | None = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A user's activities, newest first (summaries only); the page's ETag is a hash of its content."""
    page = await svc.page(
        require_self(who, user_id), limit=limit, offset=offset, before=before, after=after, sport=type
    )
    return answer(page, if_none_match)


@router.patch(
    "/activities/{activity_id}",
    response_model=ActivityPublic,
    responses={412: {"description": "If-Match names a stale version"}},
)
async def patch_activity(
    activity_id: uuid.UUID,
    changes: ActivityUpdate,
    who: CurrentUser,
    svc: Activities,
    response: Response,
    if_match: Annotated[str | None, Header(max_length=64)] = None,
) -> dict[str, Any]:
    """Edit name, type, notes or visibility; send If-Match with the version you read."""
    row = await svc.update(who.user_id, activity_id, changes.model_dump(exclude_unset=True), _parse_if_match(if_match))
    response.headers["ETag"] = _etag(row["version"])
    return row


@router.delete("/activities/{activity_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_activity(activity_id: uuid.UUID, who: CurrentUser, svc: Activities) -> Response:
    """Delete an activity and all its points."""
    await svc.delete(who.user_id, activity_id)
    return Response(status_code=204)
