"""Every error leaves as the JSON envelope {"error": {"code", "message", "details"}}: one place maps them."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from storage.errors import StorageUnavailable

log = logging.getLogger("stride.errors")

RETRY_AFTER_S = 5
_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 412: "precondition_failed", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "validation_error", 428: "precondition_required", 429: "rate_limited", 503: "service_unavailable",
}


class ApiError(Exception):
    """An error a route raises on purpose: status, machine code, human message, optional details and headers."""

    def __init__(self, status: int, message: str, *, code: str | None = None, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers or {}


def envelope(status: int, message: str, *, code: str | None = None, details: Any = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error response."""
    body = {"error": {"code": code or _CODES.get(status, "error"), "message": message, "details": details}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_path(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in loc) or "body"


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return envelope(exc.status, exc.message, code=exc.code, details=exc.details, headers=exc.headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code, "error")
    return envelope(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [
        {"field": _field_path(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    fields = ", ".join(sorted({d["field"] for d in details}))
    return envelope(422, f"invalid request: {fields}", details=details)


async def _unavailable(request: Request, exc: StorageUnavailable) -> JSONResponse:
    log.warning("dependency down: %s", exc)
    return envelope(503, f"{exc.service} is unavailable, retry later", details={"service": exc.service},
                    headers={"Retry-After": str(RETRY_AFTER_S)})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return envelope(500, "internal error", code="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on an app."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StorageUnavailable, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
