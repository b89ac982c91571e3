"""Live workouts over HTTP (`router`, in the main app) and over WebSockets (`socket_router`, in the socket app
mounted at /ws, see serve_app.app). Routes parse, call one LiveService function, answer.

WebSocket protocol (`WS /ws/activities/{activity_id}/live`; JSON text messages):

Owner (the athlete, or one of their devices), authenticated once per socket, never in the URL:
  - either offer the subprotocols `stride.v1, bearer.<access or device token>` (the server answers `stride.v1`),
  - or connect with `stride.v1` (or none) and send `{"type": "auth", "token": "..."}` first, within
    `live_ws_auth_timeout_s`; the same message later swaps in a fresh token before the old one expires.
  Then send
  - `{"type": "samples", "seq": n, "points": [...]}` or `{"type": "samples", "seq": n, "streams": {...}}` (the
    HTTP batch body) -> `{"type": "ack", "seq": n, "acked_seq", "missing", "highest_seq", "duplicate"}`, sent only
    after Cassandra has the batch; exactly the HTTP rules: a duplicate is acked again without a second write, gaps
    are listed in `missing`, a batch more than 64 ahead of `acked_seq` is a 409 error;
  - `{"type": "pause"}` / `{"type": "resume"}` -> `{"type": "pause" | "resume", "paused": bool}`;
  - `{"type": "ping"}` -> `{"type": "pong"}`.
  A refused message gets `{"type": "error", "seq"?, "status", "code", "message", "details"}` (422 invalid batch,
  409 too far ahead, 413 point cap, 429 rate limited with `retry_after_s`, 503 retry) and the socket stays open.
  Every message counts against the user's API rate limit, like an HTTP request.
Follower: `?share=<token>` in the URL (or the subprotocol `share.<token>`); read-only.
Both receive `{"type": "metrics", ...}` at once and on every update, then `{"type": "finished" | "discarded"}` and a
close 1000 when the workout ends. Close codes: 4400 bad request (e.g. a token in the query string), 4401 credentials
missing, invalid, expired or revoked (reconnect with a fresh token), 4404 workout or share link gone, 4408 no auth
message in time, 4429 a cap on sockets (per workout, share link, client address) is reached, 1013 a dependency is
down (retry), 1009 message too big.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import JSONResponse

from domain.errors import Invalid, Malformed, NotFound, StrideError, Unauthenticated, Unavailable
from serve_app.auth import BearerToken, CurrentUser, Uploader, client_ip
from serve_app.deps import Live
from serve_app.errors import status_of
from serve_app.live_hub import (
    CLOSE_AUTH_TIMEOUT,
    CLOSE_BAD_REQUEST,
    CLOSE_NOT_FOUND,
    CLOSE_POLICY,
    CLOSE_TRY_LATER,
    CLOSE_UNAUTHORIZED,
    Close,
    LiveHub,
    Refused,
    Socket,
)
from serve_app.resources import Resources, get_resources
from serve_app.schemas.activities import ActivityPublic
from serve_app.schemas.live import LiveStart, LiveStarted, SampleAck, ShareCreated
from serve_app.schemas.samples import batch_from_object, decode_batch, to_track
from services.auth import Principal

log = logging.getLogger("stride.live")

router = APIRouter(tags=["live"])
socket_router = APIRouter(tags=["live"])

SUBPROTOCOL = "stride.v1"
ACK_KEYS = ("acked_seq", "missing", "highest_seq", "duplicate")
FOLLOWER_MESSAGES_MAX = 10  # a read-only socket that keeps talking is closed


# ---------------------------------------------------------------------------------------------- HTTP


@router.post(
    "/activities/start",
    status_code=status.HTTP_201_CREATED,
    response_model=LiveStarted,
    responses={
        200: {"model": LiveStarted, "description": "a retry with the same client_id"},
        409: {"description": "client_id already used for an uploaded activity"},
    },
)
async def start_live(body: LiveStart, who: Uploader, live: Live) -> JSONResponse:
    """Start a live workout (idempotent on client_id): 201 the first time, 200 with the same id after."""
    activity_id, created = await live.start(who.user_id, body.type, body.start_time, body.client_id)
    return JSONResponse({"activity_id": str(activity_id), "status": "live"}, status_code=201 if created else 200)


@router.post(
    "/activities/{activity_id}/samples",
    response_model=SampleAck,
    responses={
        409: {"description": "batch too far ahead of the acknowledged ones"},
        413: {"description": "body over the cap, or the workout's point cap reached"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SampleBatch"}}},
        }
    },
)
async def post_samples(activity_id: uuid.UUID, who: Uploader, request: Request, live: Live) -> dict[str, Any]:
    """Add batch `seq` (1, 2, 3, ...) of 1-600 points as `points` or columnar `streams`; `time` is seconds from the
    start or an absolute timestamp. Answered only once the batch is in Cassandra: `acked_seq` covers every batch
    stored without a gap, `missing` lists the gaps to resend, a duplicate is acknowledged without a second write.
    The same batches stream over the owner's WebSocket (see the README)."""
    # a batch is at most 600 points (~60 KB): decoding it costs less than handing it to a thread
    batch = decode_batch(await request.body())
    track, absolute = to_track(batch.points, batch.streams, None, field="points")
    body = await live.samples(who.user_id, activity_id, batch.seq, track, absolute)
    return {k: body[k] for k in ACK_KEYS}


@router.post("/activities/{activity_id}/pause")
async def pause(activity_id: uuid.UUID, who: Uploader, live: Live) -> dict[str, Any]:
    """Manual pause: time until resume is not moving time and its points are not measured."""
    return await live.set_paused(who.user_id, activity_id, True)


@router.post("/activities/{activity_id}/resume")
async def resume(activity_id: uuid.UUID, who: Uploader, live: Live) -> dict[str, Any]:
    """Resume after a manual pause."""
    return await live.set_paused(who.user_id, activity_id, False)


@router.get("/activities/{activity_id}/live")
async def live_metrics(
    activity_id: uuid.UUID,
    live: Live,
    token: BearerToken,
    share: Annotated[str | None, Query(max_length=128, description="a share token")] = None,
) -> dict[str, Any]:
    """Current metrics of a live workout, for its owner (bearer token) or a follower (`?share=token`)."""
    if share:
        return await live.follower_metrics(activity_id, share)
    principal = await get_resources().auth.authenticate(token, allow_device=False)  # and its rate limit
    return await live.metrics(principal.user_id, activity_id)


@router.post("/activities/{activity_id}/share", status_code=status.HTTP_201_CREATED, response_model=ShareCreated)
async def create_share(activity_id: uuid.UUID, who: CurrentUser, live: Live) -> dict[str, Any]:
    """A read-only link to follow this live workout; it dies when revoked or when the workout ends."""
    share_id, token = await live.share(who.user_id, activity_id)
    return {
        "share_id": share_id,
        "token": token,
        "url": f"/activities/{activity_id}/live?share={token}",
        "websocket_url": f"/ws/activities/{activity_id}/live?share={token}",
    }


@router.delete("/activities/{activity_id}/share/{share_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_share(activity_id: uuid.UUID, share_id: uuid.UUID, who: CurrentUser, live: Live) -> None:
    """Revoke a share link (its open sockets close within seconds)."""
    await live.revoke_share(who.user_id, activity_id, share_id)


@router.post("/activities/{activity_id}/finish", response_model=ActivityPublic)
async def finish(activity_id: uuid.UUID, who: Uploader, live: Live) -> dict[str, Any]:
    """End the workout: the same processing as an upload over every stored sample; returns the saved activity.
    Finishing a finished workout returns it again."""
    return await live.finish(who.user_id, activity_id)


# ---------------------------------------------------------------------------------------------- WebSocket


def _status(exc: StrideError) -> int:
    return status_of(exc)


def _error(exc: StrideError, seq: Any = None) -> str:
    body: dict[str, Any] = {
        "type": "error",
        "status": _status(exc),
        "code": exc.code,
        "message": exc.message,
        "details": exc.details,
    }
    if seq is not None:
        body["seq"] = seq
    retry = exc.headers.get("Retry-After")
    if retry:
        body["retry_after_s"] = int(retry)
    return json.dumps(body, default=str)


def _offered(ws: WebSocket, prefix: str) -> str | None:
    for proto in ws.scope.get("subprotocols") or []:
        if proto.startswith(prefix):
            return str(proto[len(prefix) :])
    return None


def _expiry(token: str) -> float | None:
    """`exp` of an access token that AuthService.authenticate has just verified (device tokens: None)."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")  # verified a moment ago
    except jwt.PyJWTError:
        return None
    return float(exp) if exp is not None else None


async def _owner(res: Resources, token: str | None) -> tuple[Principal, float | None]:
    """The principal behind an owner's token and when the token expires (device tokens: never)."""
    principal = await res.auth.authenticate(token, allow_device=True, charge=False)
    return principal, (_expiry(token) if token and principal.device_id is None else None)


async def _open(ws: WebSocket, res: Resources, activity_id: uuid.UUID, hub: LiveHub) -> Socket:
    """Who is on this socket: a follower by share token, or the owner by a token from the subprotocol or the first
    message. Raises StrideError (-> close code) or TimeoutError."""
    if "access_token" in ws.query_params:
        raise Malformed(
            "never put an access token in the URL: use the Sec-WebSocket-Protocol `bearer.<token>`"
            ' or a first {"type": "auth"} message'
        )
    live = res.live
    client = client_ip(ws, res.settings)  # type: ignore[arg-type]  # a WebSocket carries the same client/headers
    share = ws.query_params.get("share") or _offered(ws, "share.")
    if share:
        follower = await live.follow(activity_id, share)
        return Socket(
            activity_id, follower.owner_id, client, hub.outbox(), follower=True, share_id=follower.share_id, token=share
        )
    token = _offered(ws, "bearer.")
    if token is None:
        message = await asyncio.wait_for(ws.receive_text(), res.settings.live_ws_auth_timeout_s)
        try:
            first = json.loads(message)
        except ValueError:
            first = None
        if not isinstance(first, dict) or first.get("type") != "auth" or not isinstance(first.get("token"), str):
            raise Unauthenticated('send {"type": "auth", "token": ...} first')
        token = first["token"]
    principal, expires_at = await _owner(res, token)
    return Socket(
        activity_id,
        principal.user_id,
        client,
        hub.outbox(),
        token=token,
        session_id=principal.session_id,
        device_id=principal.device_id,
        expires_at=expires_at,
    )


@socket_router.websocket("/activities/{activity_id}/live")
async def live_socket(ws: WebSocket, activity_id: uuid.UUID) -> None:
    """A live workout's socket: the owner streams batches and gets acks; followers (share link) get metrics.
    Protocol in this module's docstring and the README."""
    res = get_resources()
    hub = res.live_hub
    offered = ws.scope.get("subprotocols") or []
    await ws.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    try:
        socket = await _open(ws, res, activity_id, hub)
        initial = await res.live.metrics(socket.owner_id, activity_id)  # NotFound: not (or no longer) theirs
        await hub.join(socket)
    except Refused as refused:
        await _close(ws, refused.code, refused.reason)
        return
    except TimeoutError:
        await _close(ws, CLOSE_AUTH_TIMEOUT, "no auth message in time")
        return
    except (WebSocketDisconnect, RuntimeError):
        return
    except KeyError:  # a binary first message
        await _close(ws, CLOSE_BAD_REQUEST, "messages are JSON text")
        return
    except StrideError as exc:
        await _close(ws, _close_code(exc), exc.message)
        return
    try:
        socket.outbox.push(json.dumps({"type": "metrics", **initial}, default=str), droppable=False)
        receiving = asyncio.create_task(_receive(ws, res, socket))
        try:
            await _send(ws, socket)
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiving
    finally:
        await hub.leave(socket)


def _close_code(exc: StrideError) -> int:
    code = _status(exc)
    if code == 503:
        return CLOSE_TRY_LATER
    return {400: CLOSE_BAD_REQUEST, 401: CLOSE_UNAUTHORIZED, 404: CLOSE_NOT_FOUND}.get(code, 4000 + code)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):  # the peer may be gone already
        await ws.close(code=code, reason=reason[:120])


async def _send(ws: WebSocket, socket: Socket) -> None:
    """The socket's one writer: its queue (updates from the hub, replies from the reader) until a close."""
    while True:
        item = await socket.outbox.next()
        if isinstance(item, Close):
            await _close(ws, item.code, item.reason)
            return
        try:
            await ws.send_text(item)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return


async def _receive(ws: WebSocket, res: Resources, socket: Socket) -> None:
    """The socket's one reader: owner commands, one at a time, each answered through the queue."""
    heard = 0
    while True:
        try:
            text = await ws.receive_text()
        except (WebSocketDisconnect, RuntimeError, KeyError):
            socket.outbox.close(1000, "client closed")
            return
        if socket.follower:
            heard += 1
            if heard > FOLLOWER_MESSAGES_MAX:
                socket.outbox.close(CLOSE_POLICY, "a share link is read-only")
                return
            socket.outbox.push(
                json.dumps(
                    {
                        "type": "error",
                        "status": 403,
                        "code": "forbidden",
                        "message": "read-only share link",
                        "details": None,
                    }
                ),
                droppable=False,
            )
            continue
        await _handle(res, socket, text)


async def _handle(res: Resources, socket: Socket, text: str) -> None:
    """One owner message -> its reply in the queue. A StrideError becomes an error message and the socket stays
    open, except for credentials gone (the error, then a 4401 close)."""
    try:
        reply = await _reply(res, socket, text)
    except _Failed as failed:
        socket.outbox.push(_error(failed.error, failed.seq), droppable=False)
        if _status(failed.error) == 401:
            socket.outbox.close(CLOSE_UNAUTHORIZED, failed.error.message)
        return
    socket.outbox.push(reply, droppable=False)


class _Failed(Exception):
    def __init__(self, error: StrideError, seq: Any) -> None:
        super().__init__(error.message)
        self.error, self.seq = error, seq


async def _reply(res: Resources, socket: Socket, text: str) -> str:
    seq = None
    try:
        try:
            message = json.loads(text)
        except ValueError:
            raise Malformed("messages are JSON objects") from None
        if not isinstance(message, dict):
            raise Malformed("messages are JSON objects")
        kind = message.pop("type", None)
        seq = message.get("seq") if kind == "samples" else None
        if kind == "auth":  # a fresh token for the same user, before the old one expires
            token = message.get("token")
            principal, expires_at = await _owner(res, token)
            if principal.user_id != socket.owner_id:
                raise Unauthenticated("a token of another user")
            socket.token, socket.session_id, socket.device_id = token, principal.session_id, principal.device_id
            socket.expires_at = expires_at
            return json.dumps({"type": "auth", "expires_at": expires_at})
        await res.auth.charge(socket.owner_id)  # RateLimited (429) as for HTTP: the same bucket
        if kind == "samples":
            batch = batch_from_object(message)
            track, absolute = to_track(batch.points, batch.streams, None, field="points")
            body = await res.live.samples(socket.owner_id, socket.activity_id, batch.seq, track, absolute)
            return json.dumps({"type": "ack", "seq": batch.seq, **{k: body[k] for k in ACK_KEYS}})
        if kind in ("pause", "resume"):
            view = await res.live.set_paused(socket.owner_id, socket.activity_id, kind == "pause")
            return json.dumps({"type": kind, "paused": view["paused"]})
        if kind == "ping":
            return json.dumps({"type": "pong"})
        raise Invalid.field("type", "must be samples, pause, resume, auth or ping")
    except StrideError as exc:
        raise _Failed(exc, seq) from None


async def recheck_socket(socket: Socket) -> bool:
    """Is this socket's credential still good? (The hub's periodic re-check; a dependency down keeps it open.)"""
    res = get_resources()
    try:
        if socket.follower:
            await res.live.follow(socket.activity_id, socket.token or "")
            return True
        return await res.auth.still_valid(Principal(socket.owner_id, socket.session_id, socket.device_id))
    except (NotFound, Unauthenticated):
        return False
    except Unavailable:
        return True
    except StrideError as exc:
        return _status(exc) not in (401, 404)
