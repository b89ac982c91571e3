"""Live workout request and response schemas. Sample batches (HTTP body and WebSocket message) are msgspec structs
in serve_app/schemas/samples.py (`SampleBatch`: `points` or columnar `streams`)."""

from __future__ import annotations

import uuid

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from serve_app.schemas.activities import ActivityType


class LiveStart(BaseModel):
    """POST /activities/start."""

    model_config = ConfigDict(extra="forbid")

    type: ActivityType
    client_id: str | None = Field(None, min_length=1, max_length=128)
    start_time: AwareDatetime | None = None


class LiveStarted(BaseModel):
    """The new live workout."""

    activity_id: uuid.UUID
    status: str = "live"


class SampleAck(BaseModel):
    """acked_seq: every batch up to it is durably stored; missing: batches to resend; duplicate: this batch was
    already stored (nothing written again)."""

    acked_seq: int
    missing: list[int]
    highest_seq: int
    duplicate: bool


class ShareCreated(BaseModel):
    """A read-only follow link: `url` for HTTP polling, `websocket_url` for live updates. The token is shown once."""

    share_id: uuid.UUID
    token: str
    url: str
    websocket_url: str
