"""Live workouts: start, sample batches, pause/resume, follow (HTTP and WebSocket), share links, finish."""
from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import JSONResponse

from actors.workout_shard import live_channel
from serve_app.errors import ApiError
from serve_app.live_service import LiveService, call_shard
from serve_app.resources import Resources, get_resources
from serve_app.schemas.activities import ActivityPublic
from serve_app.schemas.live import LiveStart, LiveStarted, SampleAck, SampleBatch, ShareCreated
from serve_app.security import CurrentUser, Uploader, principal_from_token, require_self

router = APIRouter(tags=["live"])
Res = Annotated[Resources, Depends(get_resources)]


def get_live(res: Res) -> LiveService:
    """Live use cases bound to this replica."""
    return LiveService(res)


Live = Annotated[LiveService, Depends(get_live)]


@router.post("/activities/start", status_code=status.HTTP_201_CREATED, response_model=LiveStarted)
async def start_live(body: LiveStart, who: Uploader, live: Live) -> JSONResponse:
    """Start a live workout (idempotent on client_id)."""
    activity_id, created = await live.start(who.user_id, body)
    return JSONResponse({"activity_id": str(activity_id), "status": "live"}, status_code=201 if created else 200)


@router.post("/activities/{activity_id}/samples", response_model=SampleAck)
async def post_samples(activity_id: uuid.UUID, batch: SampleBatch, who: Uploader, live: Live) -> dict[str, Any]:
    """Add batch `seq`; the answer's acked_seq covers every batch durably stored without a gap."""
    body = await live.samples(who.user_id, activity_id, batch)
    return {k: body[k] for k in ("acked_seq", "missing", "highest_seq", "duplicate")}


@router.post("/activities/{activity_id}/pause")
async def pause(activity_id: uuid.UUID, who: Uploader, live: Live) -> dict[str, Any]:
    """Manual pause: time until resume is not moving time and its points are not measured."""
    return await call_shard(live.res, activity_id, "set_paused", who.user_id, True)


@router.post("/activities/{activity_id}/resume")
async def resume(activity_id: uuid.UUID, who: Uploader, live: Live) -> dict[str, Any]:
    """Resume after a manual pause."""
    return await call_shard(live.res, activity_id, "set_paused", who.user_id, False)


async def _owner_for(live: LiveService, request: Request, activity_id: uuid.UUID, share: str | None) -> uuid.UUID:
    if share:
        return await live.follower_owner(activity_id, share)
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    return (await principal_from_token(live.res, token, allow_device=False)).user_id


@router.get("/activities/{activity_id}/live")
async def live_metrics(activity_id: uuid.UUID, request: Request, live: Live,
                       share: str | None = Query(None, description="a share token, for followers")) -> dict[str, Any]:
    """Current metrics of a live workout: for its owner (bearer token) or a follower (?share=token)."""
    owner = await _owner_for(live, request, activity_id, share)
    return await live.metrics(owner, activity_id)


@router.post("/activities/{activity_id}/share", status_code=status.HTTP_201_CREATED, response_model=ShareCreated)
async def create_share(activity_id: uuid.UUID, who: CurrentUser, live: Live) -> dict[str, Any]:
    """A read-only link to follow this live workout; it dies when revoked or when the workout ends."""
    share_id, token = await live.share(who.user_id, activity_id)
    return {"share_id": share_id, "token": token, "url": f"/activities/{activity_id}/live?share={token}",
            "websocket_url": f"/activities/{activity_id}/live?share={token}"}


@router.delete("/activities/{activity_id}/share/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_share(activity_id: uuid.UUID, share_id: uuid.UUID, who: CurrentUser, live: Live) -> None:
    """Revoke a share link."""
    await live.revoke_share(who.user_id, activity_id, share_id)


@router.post("/activities/{activity_id}/finish", response_model=ActivityPublic)
async def finish(activity_id: uuid.UUID, who: Uploader, live: Live) -> dict[str, Any]:
    """End the workout: the same processing as an upload; returns the saved activity."""
    svc = live.res.activities
    async with live.res.pg.connection() as conn:
        cur = await conn.execute("SELECT status FROM activities WHERE activity_id = %s AND user_id = %s",
                                 (activity_id, who.user_id))
        row = await cur.fetchone()
    if row is None:
        raise ApiError(404, "activity not found")
    if row["status"] == "live":
        await call_shard(live.res, activity_id, "finish", who.user_id)
    return await svc.get(who.user_id, activity_id)


# ---------------------------------------------------------------------- WebSocket

async def _ws_viewer(ws: WebSocket, live: LiveService, activity_id: uuid.UUID) -> tuple[uuid.UUID, bool]:
    """(owner id, can_write) for a socket: the owner by access/device token, a follower by share token."""
    share = ws.query_params.get("share")
    if share:
        return await live.follower_owner(activity_id, share), False
    token = ws.query_params.get("access_token")
    header = ws.headers.get("authorization", "")
    if not token and header.lower().startswith("bearer "):
        token = header[7:].strip()
    principal = await principal_from_token(live.res, token, allow_device=True)
    return principal.user_id, True


@router.websocket("/activities/{activity_id}/live")
async def live_socket(ws: WebSocket, activity_id: uuid.UUID) -> None:
    """Owner: send {"type": "samples", "seq", "points"} / {"type": "pause"|"resume"}, get acks and metrics.
    Follower (?share=token): metrics only. Updates fan out through Redis pub/sub, so any replica serves any socket."""
    live = LiveService(get_resources())
    try:
        owner, can_write = await _ws_viewer(ws, live, activity_id)
        initial = await live.metrics(owner, activity_id)
    except ApiError as exc:
        await ws.close(code=4401 if exc.status == 401 else 4404, reason=exc.message[:120])
        return
    await ws.accept()
    await ws.send_json({"type": "metrics", **initial})
    pubsub = live.res.redis.pubsub()
    await pubsub.subscribe(live_channel(activity_id))
    forward = asyncio.create_task(_forward(ws, pubsub))
    try:
        await _read_loop(ws, live, owner, activity_id, can_write, forward)
    finally:
        forward.cancel()
        with contextlib.suppress(Exception):
            await pubsub.unsubscribe()
            await pubsub.aclose()


async def _forward(ws: WebSocket, pubsub: Any) -> None:
    """Relay published updates to the socket until the workout ends."""
    async for message in pubsub.listen():
        if message.get("type") != "message":
            continue
        data = json.loads(message["data"])
        await ws.send_json(data)
        if data.get("type") in ("finished", "discarded"):
            await ws.close(code=1000)
            return


async def _read_loop(ws: WebSocket, live: LiveService, owner: uuid.UUID, activity_id: uuid.UUID, can_write: bool,
                     forward: asyncio.Task) -> None:
    while not forward.done():
        try:
            message = await ws.receive_json()
        except (WebSocketDisconnect, RuntimeError, json.JSONDecodeError):
            return
        if not can_write:
            await ws.send_json({"type": "error", "status": 403, "message": "read-only share link"})
            continue
        await ws.send_json(await _handle(live, owner, activity_id, message))


async def _handle(live: LiveService, owner: uuid.UUID, activity_id: uuid.UUID, message: dict[str, Any]) -> dict[str, Any]:
    """One owner message -> its reply."""
    kind = message.get("type") if isinstance(message, dict) else None
    try:
        if kind == "samples":
            batch = SampleBatch.model_validate({k: message.get(k) for k in ("seq", "points")})
            body = await live.samples(owner, activity_id, batch)
            return {"type": "ack", **{k: body[k] for k in ("acked_seq", "missing", "highest_seq", "duplicate")}}
        if kind in ("pause", "resume"):
            body = await call_shard(live.res, activity_id, "set_paused", owner, kind == "pause")
            return {"type": kind, "paused": body["paused"]}
        return {"type": "error", "status": 400, "message": "type must be samples, pause or resume"}
    except pydantic.ValidationError as exc:
        return {"type": "error", "status": 422, "message": "invalid batch",
                "details": [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]}
    except ApiError as exc:
        return {"type": "error", "status": exc.status, "message": exc.message, "details": exc.details}
