"""Conditional reads: a route answering a `services.documents.Document` sends its ready bytes with the `ETag`, or
304 and no body when the request's `If-None-Match` names that tag."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Response

from services.documents import Document

IfNoneMatch = Annotated[str | None, Header(max_length=1024, description="an ETag of a previous answer")]
NOT_MODIFIED = {304: {"description": "not modified: `If-None-Match` names the current ETag"}}


def answer(doc: Document, if_none_match: str | None) -> Response:
    """200 with the document's bytes, or 304 when the client holds its tag (RFC 9110 §13.1.2)."""
    headers = {"ETag": doc.etag, "Cache-Control": "private, no-cache"}
    if doc.matches(if_none_match):
        return Response(status_code=304, headers=headers)
    return Response(doc.body, media_type="application/json", headers=headers)
