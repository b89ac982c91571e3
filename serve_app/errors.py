"""Every error leaves as the JSON envelope {"error": {"code", "message", "details"}}: this module maps them, once.

`domain.errors.StrideError` (raised by services, storage and actors) -> its status; the framework's own errors
(404/405 routing, 422 request validation) -> the same envelope; anything else -> 500 `internal_error`, logged.
"""

from __future__ import annotations

import logging
from typing import Any

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import (
    Conflict,
    Forbidden,
    Invalid,
    Malformed,
    NotFound,
    PreconditionFailed,
    RateLimited,
    StrideError,
    TooLarge,
    Unauthenticated,
    Unavailable,
    Unsupported,
)

log = logging.getLogger("stride.errors")

RETRY_AFTER_S = 5
STATUS: dict[type[StrideError], int] = {
    Malformed: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    TooLarge: 413,
    Unsupported: 415,
    Invalid: 422,
    RateLimited: 429,
    Unavailable: 503,
}
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    503: "service_unavailable",
}


def status_of(exc: StrideError) -> int:
    """The HTTP status of a Stride error (the nearest mapped class in its hierarchy; 500 for the bare base)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def envelope(
    status: int, message: str, *, code: str | None = None, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The JSON error response."""
    body = {"error": {"code": code or _CODES.get(status, "error"), "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """'data_points.3.time' from a pydantic location (the 'body'/'query'/... prefix dropped)."""
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc) or "body"


def invalid_from_errors(errors: list[Any], prefix: tuple[str, ...] = ()) -> Invalid:
    """The one 422 builder: pydantic/FastAPI/msgspec error dicts -> Invalid with field-level details."""
    details = [
        {"field": field_path((*prefix, *e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]
    return Invalid.fields(details)


def invalid_from_pydantic(exc: pydantic.ValidationError, prefix: tuple[str, ...] = ()) -> Invalid:
    """A pydantic ValidationError as Invalid."""
    return invalid_from_errors(exc.errors(include_url=False, include_context=False, include_input=False), prefix)


def response_for(exc: StrideError) -> JSONResponse:
    """The envelope of a Stride error."""
    status = status_of(exc)
    if status == 503:
        log.warning("dependency down: %s", exc)
    headers = dict(exc.headers)
    if status == 503:
        headers.setdefault("Retry-After", str(RETRY_AFTER_S))
    return envelope(status, exc.message, code=exc.code, details=exc.details, headers=headers or None)


async def _stride_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StrideError)
    return response_for(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code, "error")
    return envelope(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return response_for(invalid_from_errors(list(exc.errors())))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return envelope(500, "internal error", code="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(StrideError, _stride_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
