"""Live workout request and response schemas."""
from __future__ import annotations

import uuid

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from serve_app.schemas.activities import ActivityType, PointIn


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


class SampleBatch(BaseModel):
    """POST /activities/{id}/samples: batch number `seq` (1, 2, 3, ...) of 1-600 points."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1, le=10_000_000)
    points: list[PointIn] = Field(min_length=1, max_length=600)


class SampleAck(BaseModel):
    """acked_seq: every batch up to it is durably stored; missing: batches to resend."""

    acked_seq: int
    missing: list[int]
    highest_seq: int
    duplicate: bool


class ShareCreated(BaseModel):
    """A read-only follow link."""

    share_id: uuid.UUID
    token: str
    url: str
    websocket_url: str
