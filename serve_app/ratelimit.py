"""The HTTP face of rate limiting: X-RateLimit-* headers on every authenticated response, errors included.

The buckets and their policy are services.ratelimits (and storage/auth_state.py in Redis); the auth dependencies
(serve_app/auth.py) put the bucket's headers in the request state, and this middleware adds them to whatever
response leaves: a route's own, or one built by an error handler.
"""

from __future__ import annotations

from typing import Any

STATE_KEY = "ratelimit_headers"


class RateLimitHeadersMiddleware:
    """Adds the X-RateLimit-* headers a route's auth dependency computed to whatever response leaves (pure ASGI)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with request.state downstream

        async def send_with_headers(message: dict[str, Any]) -> None:
            extra = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and extra:
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [
                    (k.lower().encode(), v.encode()) for k, v in extra.items() if k.lower().encode() not in present
                ]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
