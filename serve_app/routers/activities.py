"""Activities: upload, read, streams, list, edit, delete."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from domain.streams import STREAM_KEYS
from serve_app.activity_service import ActivityService
from serve_app.errors import ApiError
from serve_app.resources import Resources, get_resources
from serve_app.schemas.activities import (
    ActivityCreate, ActivityCreated, ActivityPage, ActivityPublic, ActivitySummary, ActivityType, ActivityUpdate,
)
from serve_app.security import CurrentUser, Uploader, require_self
from storage import activities as repo

router = APIRouter(tags=["activities"])


def get_service(res: Annotated[Resources, Depends(get_resources)]) -> ActivityService:
    """The activity use cases bound to this replica's clients."""
    return ActivityService(res)


Service = Annotated[ActivityService, Depends(get_service)]


def _etag(version: int) -> str:
    return f'"{version}"'


def _parse_if_match(value: str | None) -> int | None:
    if value is None or value.strip() == "*":
        return None
    try:
        return int(value.strip().removeprefix("W/").strip('"'))
    except ValueError as exc:
        raise ApiError(400, "If-Match must be an activity version, e.g. \"3\"") from exc


async def activity_body(request: Request) -> ActivityCreate:
    """The upload body, parsed and validated in one pass by pydantic-core (json.loads followed by validating 3,600
    points costs about twice as much); errors leave as the usual 422 envelope."""
    try:
        return ActivityCreate.model_validate_json(await request.body())
    except pydantic.ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_context=False)) from None


@router.post("/activities", status_code=status.HTTP_201_CREATED, response_model=ActivityCreated,
             responses={200: {"model": ActivityCreated, "description": "a retry of an upload already stored"},
                        409: {"description": "client id reused for a different activity"}},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/ActivityCreate"}}}}})
async def upload_activity(body: Annotated[ActivityCreate, Depends(activity_body)], who: Uploader, svc: Service,
                          idempotency_key: Annotated[str | None, Header(max_length=128)] = None) -> JSONResponse:
    """Upload a whole activity (points, manual entry or strength sets). Retries with the same client id are safe."""
    activity_id, created = await svc.create(who.user_id, body, idempotency_key)
    return JSONResponse({"activity_id": str(activity_id), "status": "saved"},
                        status_code=201 if created else 200, headers={"Location": f"/activities/{activity_id}"})


@router.get("/activities/{activity_id}", response_model=ActivityPublic)
async def get_activity(activity_id: uuid.UUID, who: CurrentUser, svc: Service, response: Response) -> dict[str, Any]:
    """One activity with its full summary (laps, splits, best efforts, zones, route)."""
    row = await svc.get(who.user_id, activity_id)
    response.headers["ETag"] = _etag(row["version"])
    return row


@router.get("/activities/{activity_id}/streams")
async def get_streams(activity_id: uuid.UUID, who: CurrentUser, svc: Service,
                      keys: str = Query("time,latlng,distance,altitude,heartrate", description="comma-separated stream keys"),
                      resolution: str = Query("high", pattern="^(low|medium|high)$")) -> dict[str, Any]:
    """Per-point streams (Strava's keys); low and medium are downsampled."""
    wanted = [k.strip() for k in keys.split(",") if k.strip()]
    unknown = sorted(set(wanted) - set(STREAM_KEYS))
    if unknown or not wanted:
        raise ApiError(422, f"unknown stream keys: {', '.join(unknown) or '(none given)'}",
                       details=[{"field": "keys", "message": f"allowed: {', '.join(STREAM_KEYS)}", "type": "value_error"}])
    return await svc.streams(who.user_id, activity_id, wanted, resolution)


@router.get("/users/{user_id}/activities", response_model=ActivityPage)
async def list_activities(user_id: str, who: CurrentUser, svc: Service,
                          limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=100_000),
                          before: dt.datetime | None = None, after: dt.datetime | None = None,
                          type: ActivityType | None = None) -> dict[str, Any]:
    """A user's activities, newest first (summaries only)."""
    user_id = require_self(who, user_id)
    async with svc.res.pg.connection() as conn:
        rows = await repo.list_activities(conn, user_id, limit=limit + 1, offset=offset, before=before, after=after, sport=type)
    items = [ActivitySummary.model_validate(r) for r in rows[:limit]]
    return {"items": items, "limit": limit, "offset": offset, "next_offset": offset + limit if len(rows) > limit else None}


@router.patch("/activities/{activity_id}", response_model=ActivityPublic,
              responses={412: {"description": "If-Match names a stale version"}})
async def patch_activity(activity_id: uuid.UUID, changes: ActivityUpdate, who: CurrentUser, svc: Service,
                         response: Response, if_match: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Edit name, type, notes or visibility; send If-Match with the version you read."""
    row = await svc.update(who.user_id, activity_id, changes, _parse_if_match(if_match))
    response.headers["ETag"] = _etag(row["version"])
    return row


@router.delete("/activities/{activity_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_activity(activity_id: uuid.UUID, who: CurrentUser, svc: Service) -> Response:
    """Delete an activity and all its points."""
    await svc.delete(who.user_id, activity_id)
    return Response(status_code=204)
