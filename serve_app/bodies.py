"""Request bodies: gzip decoding and a size cap, as pure ASGI middleware (before any JSON parsing)."""
from __future__ import annotations

import json
import zlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def _reject(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": None}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyLimitGzipMiddleware:
    """Decompresses `Content-Encoding: gzip` bodies; rejects bodies (raw or inflated) above max_bytes with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int | None = None) -> None:
        self.app = app
        self._max_bytes = max_bytes

    @property
    def max_bytes(self) -> int:
        """The cap: explicit, else this replica's setting."""
        if self._max_bytes is None:
            from serve_app.resources import get_resources

            self._max_bytes = get_resources().settings.max_body_bytes
        return self._max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        encoding = headers.get(b"content-encoding", b"").decode("latin-1").strip().lower()
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await _reject(send, 413, "payload_too_large", f"request body over {self.max_bytes} bytes")
            return
        if encoding in ("", "identity"):
            await self.app(scope, receive, send)
            return
        if encoding != "gzip":
            await _reject(send, 415, "unsupported_media_type", f"unsupported Content-Encoding {encoding!r}")
            return
        await self._gunzip(scope, receive, send)

    async def _gunzip(self, scope: Scope, receive: Receive, send: Send) -> None:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = bytearray()
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                out += inflater.decompress(message.get("body", b""), self.max_bytes + 1 - len(out))
                if len(out) > self.max_bytes or inflater.unconsumed_tail:
                    await _reject(send, 413, "payload_too_large", f"decompressed body over {self.max_bytes} bytes")
                    return
                if not message.get("more_body", False):
                    break
            out += inflater.flush()
        except zlib.error:
            await _reject(send, 400, "bad_request", "body is not valid gzip")
            return
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")]
        headers.append((b"content-length", str(len(out)).encode()))
        scope = dict(scope, headers=headers)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": bytes(out), "more_body": False}

        await self.app(scope, replay, send)
