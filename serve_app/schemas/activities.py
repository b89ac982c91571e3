"""Activity request and response schemas; bodies that carry samples are msgspec structs in schemas/samples.py."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ActivityType = Literal["running", "cycling", "weightlifting", "walking", "hiking", "swimming", "other"]
Visibility = Literal["private", "followers", "public"]


class ActivityUpdate(BaseModel):
    """PATCH /activities/{id}: the editable fields."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    type: ActivityType | None = None
    notes: str | None = Field(None, max_length=10_000)
    visibility: Visibility | None = None


class ActivityCreated(BaseModel):
    """The upload's acknowledgement."""

    activity_id: uuid.UUID
    status: str = "saved"


class ActivitySummary(BaseModel):
    """One row of an activity list."""

    activity_id: uuid.UUID
    user_id: uuid.UUID
    type: str
    name: str | None
    start_time: dt.datetime
    duration: float | None
    moving_time: float | None
    distance: float | None
    elevation_gain: float | None
    calories: float | None
    average_pace: float | None
    average_speed: float | None
    heart_rate_avg: float | None
    summary_polyline: str | None
    points_count: int
    visibility: str
    created_at: dt.datetime


class ActivityPublic(ActivitySummary):
    """GET /activities/{id}."""

    client_id: str | None
    status: str
    notes: str | None
    route_polyline: str | None
    heart_rate_max: float | None
    max_speed: float | None
    elevation_loss: float | None
    cadence_avg: float | None
    power_avg: float | None
    power_max: float | None
    laps: list[dict[str, Any]]
    splits: list[dict[str, Any]]
    best_efforts: list[dict[str, Any]]
    hr_zones: list[dict[str, Any]]
    bbox: list[float] | None
    strength: dict[str, Any] | None
    sets: list[dict[str, Any]]
    insights: list[dict[str, Any]] = []
    version: int
    updated_at: dt.datetime


class ActivityPage(BaseModel):
    """A page of activity summaries, newest first."""

    items: list[ActivitySummary]
    limit: int
    offset: int
    next_offset: int | None
