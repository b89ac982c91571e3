"""Stride's one error hierarchy, raised by every layer and mapped to HTTP once (serve_app/errors.py).

It lives in `domain` because every layer raises it: the domain (`Invalid` for a bad goal or file), storage
(`Unavailable` when a backing service is down), the use cases in `services`, and actors across the Ray boundary
(`actors.gateway` re-raises the original error on the caller's side). Stdlib only, and picklable (Ray ships
errors between processes), so every attribute survives a round trip through `pickle`.

| error | meaning | HTTP |
|---|---|---|
| `Malformed` | the request cannot be read at all (not JSON, bad header) | 400 |
| `Unauthenticated` | no, bad, expired or revoked credentials | 401 |
| `Forbidden` | authenticated, but this principal may never do this (e.g. a device token on an account route) | 403 |
| `NotFound` | missing, or someone else's (the same answer for both) | 404 |
| `Conflict` | the state forbids it (client id reused for a different body, too far ahead) | 409 |
| `PreconditionFailed` | `If-Match` names a stale version | 412 |
| `TooLarge` | over a size or count limit | 413 |
| `Unsupported` | a body encoding or media type Stride does not take | 415 |
| `Invalid` | a well-formed request with invalid values (field-level details) | 422 |
| `RateLimited` | a token bucket is empty (`retry_after_s`) | 429 |
| `Unavailable` | a dependency (postgres, cassandra, redis, actors) is down (`service`, `retry_after_s`) | 503 |
"""

from __future__ import annotations

from typing import Any

FieldError = dict[str, str]  # {"field": "data_points.3.time", "message": "...", "type": "value_error"}


class StrideError(Exception):
    """Base of every error Stride raises on purpose. `code` is the machine-readable name clients see."""

    code = "error"

    def __init__(
        self, message: str, *, details: Any = None, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        self.headers = dict(headers or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # keyword-only arguments do not survive Exception's default pickling; restore the whole __dict__
        return (_rebuild, (type(self), self.message, self.__dict__))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[StrideError], message: str, state: dict[str, Any]) -> StrideError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class Malformed(StrideError):
    """The request cannot be read (not JSON, not gzip, a header in the wrong form)."""

    code = "bad_request"


class Unauthenticated(StrideError):
    """No credentials, or credentials that are malformed, forged, expired or revoked."""

    code = "unauthorized"

    def __init__(
        self,
        message: str = "authentication required",
        *,
        token_given: bool = False,
        code: str | None = None,
        details: Any = None,
    ) -> None:
        challenge = 'Bearer realm="stride", error="invalid_token"' if token_given else 'Bearer realm="stride"'
        super().__init__(
            message,
            details=details,
            code=code or ("invalid_token" if token_given else None),
            headers={"WWW-Authenticate": challenge},
        )
        self.token_given = token_given


class Forbidden(StrideError):
    """Authenticated, but this kind of principal may not do this."""

    code = "forbidden"


class NotFound(StrideError):
    """Missing, or belonging to someone else: one answer for both, so existence never leaks."""

    code = "not_found"

    def __init__(self, what: str = "resource", *, message: str | None = None, details: Any = None) -> None:
        super().__init__(message or f"{what} not found", details=details)


class Conflict(StrideError):
    """The current state forbids the change."""

    code = "conflict"


class PreconditionFailed(StrideError):
    """A conditional request (If-Match) names a version that is not current."""

    code = "precondition_failed"


class TooLarge(StrideError):
    """Over a size or count limit."""

    code = "payload_too_large"


class Unsupported(StrideError):
    """A request body in a media type or encoding Stride does not take."""

    code = "unsupported_media_type"


class Invalid(StrideError):
    """Well-formed but invalid values; `details` is a list of field errors."""

    code = "validation_error"

    @classmethod
    def field(cls, field: str, message: str, kind: str = "value_error") -> Invalid:
        """One invalid field, in the envelope's details shape."""
        return cls(f"invalid request: {field}", details=[{"field": field, "message": message, "type": kind}])

    @classmethod
    def fields(cls, details: list[FieldError]) -> Invalid:
        """Several invalid fields; the message names them all."""
        names = ", ".join(sorted({d["field"] for d in details})) or "body"
        return cls(f"invalid request: {names}", details=details)


class RateLimited(StrideError):
    """A token bucket is empty; retry after `retry_after_s` seconds."""

    code = "rate_limited"

    def __init__(
        self, message: str, *, retry_after_s: int, headers: dict[str, str] | None = None, details: Any = None
    ) -> None:
        merged = {"Retry-After": str(retry_after_s), **(headers or {})}
        super().__init__(message, details=details, headers=merged)
        self.retry_after_s = retry_after_s


class Unavailable(StrideError):
    """A dependency is down or restarting: retry later (never a 500, never a half-written change)."""

    code = "service_unavailable"

    def __init__(self, service: str, detail: str = "", *, retry_after_s: int = 5, message: str | None = None) -> None:
        super().__init__(
            message or (f"{service} unavailable: {detail}" if detail else f"{service} unavailable"),
            details={"service": service},
            headers={"Retry-After": str(retry_after_s)},
        )
        self.service = service
        self.detail = detail
        self.retry_after_s = retry_after_s
