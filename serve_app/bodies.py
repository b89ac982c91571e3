"""Request bodies and WebSocket messages: size caps counted as bytes arrive, and gzip/zstd decoding.

Pure ASGI middleware, in front of everything else (no JSON is parsed before it):
- Every route has a cap (`BodyCaps`): uploads get the large one, live sample batches a medium one, everything else
  (login forms included) a small one. `Content-Length` over the cap is refused at once; bodies without one
  (`Transfer-Encoding: chunked`) are counted chunk by chunk and refused the moment they pass the cap.
- `Content-Encoding: gzip` and `zstd` bodies are inflated as they stream, and the inflated size is capped too
  (a zip bomb stops at the cap, not at the end of the bomb).
- WebSocket messages over `ws_message_bytes` close the socket with 1009 (message too big).
A refusal is the usual JSON error envelope (413, 415, 400); the route's own answer, if any, is dropped.
"""

from __future__ import annotations

import contextlib
import json
import re
import zlib
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LIVE_SAMPLES = re.compile(r"^/activities/[^/]+/samples$")


@dataclass(frozen=True)
class BodyCaps:
    """Byte caps per kind of route."""

    upload_bytes: int = 64 * 1024 * 1024
    samples_bytes: int = 1024 * 1024
    default_bytes: int = 64 * 1024
    ws_message_bytes: int = 256 * 1024

    def for_request(self, method: str, path: str) -> int:
        """The cap of one request."""
        if method == "POST" and path in ("/activities", "/imports"):
            return self.upload_bytes
        if method == "POST" and _LIVE_SAMPLES.match(path):
            return self.samples_bytes
        return self.default_bytes


class _Decoder(Protocol):
    def feed(self, data: bytes, room: int) -> bytes: ...

    def finish(self, room: int) -> bytes: ...


class _Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        return data

    def finish(self, room: int) -> bytes:
        return b""


class _Gzip:
    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        # at most room + 1 bytes out: one byte past the room is enough to know the cap is passed
        return self._z.decompress(data, room + 1)

    def finish(self, room: int) -> bytes:
        if not self._z.eof:
            raise zlib.error("truncated gzip stream")
        return self._z.flush()


class _Zstd:
    """zstd has no bounded push decoder, so the (already capped) compressed body is kept and decoded at the end
    through a pull reader that never produces more than the room left."""

    def __init__(self) -> None:
        self._raw = bytearray()

    def feed(self, data: bytes, room: int) -> bytes:
        self._raw += data
        return b""

    def finish(self, room: int) -> bytes:
        import io

        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(bytes(self._raw)), read_across_frames=True) as r:
            out = bytearray()
            while len(out) <= room:
                piece = r.read(min(1 << 20, room + 1 - len(out)))
                if not piece:
                    break
                out += piece
        return bytes(out)


def _decoder(encoding: str) -> _Decoder | None:
    if encoding in ("", "identity"):
        return _Identity()
    if encoding == "gzip":
        return _Gzip()
    if encoding == "zstd":
        return _Zstd()
    return None


async def _linger(receive: Receive, limit: int, seconds: float = 5.0) -> None:
    """After an early refusal, read and discard up to `limit` more bytes (for at most `seconds`) so a client that
    sends its whole body before reading the answer gets the 413 instead of a reset connection (nginx's lingering
    close). Nothing is kept; a bigger or slower body is cut off."""
    import asyncio

    drained = 0

    async def drain() -> None:
        nonlocal drained
        while drained <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return
            drained += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(drain(), seconds)


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class RequestBodyMiddleware:
    """See the module docstring. `caps` defaults to this replica's settings."""

    def __init__(self, app: ASGIApp, caps: BodyCaps | None = None) -> None:
        self.app = app
        self._caps = caps

    @property
    def caps(self) -> BodyCaps:
        if self._caps is None:
            from serve_app.resources import get_resources

            s = get_resources().settings
            self._caps = BodyCaps(
                upload_bytes=s.max_body_bytes,
                samples_bytes=s.max_samples_body_bytes,
                default_bytes=s.max_small_body_bytes,
                ws_message_bytes=s.max_ws_message_bytes,
            )
        return self._caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, self._ws_receive(receive, send), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if b"content-length" not in headers and b"transfer-encoding" not in headers:
            # no body (RFC 9112 §6.3: a request with neither header has a zero-length body): nothing to count,
            # so GETs skip the receive/send wrapping (a measurable share of a cached read)
            await self.app(scope, receive, send)
            return
        cap = self.caps.for_request(scope["method"], scope["path"])
        encoding = headers.get(b"content-encoding", b"").decode("latin-1").strip().lower()
        length = headers.get(b"content-length")
        decoder = _decoder(encoding)
        if length is not None and length.isdigit() and int(length) > cap:
            await self._respond(send, _Refusal(413, "payload_too_large", f"request body over {cap} bytes"))
            await _linger(receive, cap)
            return
        if decoder is None:
            await self._respond(
                send, _Refusal(415, "unsupported_media_type", f"unsupported Content-Encoding {encoding!r} (gzip, zstd)")
            )
            return
        if not isinstance(decoder, _Identity):
            # the route sees the decoded body: drop the encoding and the (now wrong) length
            scope = dict(
                scope,
                headers=[(k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")],
            )
        await self._guarded(scope, receive, send, cap, decoder)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, cap: int, decoder: _Decoder) -> None:
        raw = decoded = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal raw, decoded, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] != "http.request":
                return message
            chunk = message.get("body", b"")
            raw += len(chunk)
            try:
                if raw > cap:
                    raise _Refusal(413, "payload_too_large", f"request body over {cap} bytes")
                out = decoder.feed(chunk, cap - decoded)
                if decoded + len(out) <= cap and not message.get("more_body", False):
                    out += decoder.finish(cap - decoded - len(out))
                decoded += len(out)
                if decoded > cap:
                    raise _Refusal(413, "payload_too_large", f"decoded request body over {cap} bytes")
            except _Refusal as refusal:
                refused = True
                if not started:
                    await self._respond(send, refusal)
                return {"type": "http.disconnect"}
            except Exception:  # noqa: BLE001 - zlib.error, zstd errors: the body is not what it claims to be
                refused = True
                if not started:
                    await self._respond(send, _Refusal(400, "bad_request", "body does not match its Content-Encoding"))
                return {"type": "http.disconnect"}
            return {**message, "body": out}

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # we already answered
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted, guarded_send)
        if refused:
            await _linger(receive, cap)

    def _ws_receive(self, receive: Receive, send: Send) -> Receive:
        limit = self.caps.ws_message_bytes

        async def capped() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                size = len(message.get("bytes") or b"") + len((message.get("text") or "").encode())
                if size > limit:
                    await send({"type": "websocket.close", "code": 1009, "reason": f"message over {limit} bytes"})
                    return {"type": "websocket.disconnect", "code": 1009}
            return message

        return capped

    @staticmethod
    async def _respond(send: Send, refusal: _Refusal) -> None:
        body = _error_body(refusal.code, refusal.message)
        await send(
            {
                "type": "http.response.start",
                "status": refusal.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
