"""Goal and stats schemas."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serve_app.schemas.activities import ActivityType

GoalType = Literal[
    "weekly_distance",
    "monthly_distance",
    "yearly_distance",
    "weekly_duration",
    "monthly_duration",
    "yearly_duration",
    "weekly_count",
    "monthly_count",
    "yearly_count",
    "weekly_elevation",
    "monthly_elevation",
    "yearly_elevation",
]


class GoalCreate(BaseModel):
    """POST /goals (the seed's body): distance in metres, duration in seconds of moving time, elevation in metres."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    user_id: uuid.UUID
    goal_type: GoalType
    target_value: float = Field(gt=0, le=1e9)
    start_date: dt.date
    end_date: dt.date | None = None
    sport: ActivityType | None = None


class GoalUpdate(BaseModel):
    """PATCH /goals/{id}."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    target_value: float | None = Field(None, gt=0, le=1e9)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    sport: ActivityType | None = None


class GoalPublic(BaseModel):
    """A goal with its current period's progress and its history (its last periods, at most 260). The progress
    fields are null when the goal was just saved while its stats were momentarily unreachable (a later read has
    them)."""

    model_config = ConfigDict(extra="allow")

    goal_id: uuid.UUID
    goal_type: str
    target_value: float
    period: str
    sport: str | None = None
    start_date: dt.date
    end_date: dt.date | None
    current_period_progress: float | None
    current_period_start: dt.date | None
    current_period_end: dt.date | None
    achieved: bool | None
    history: list[dict[str, Any]] = []


class ProgressPoint(BaseModel):
    """One period of a progress series."""

    period_start: dt.date
    value: float


class ProgressSeries(BaseModel):
    """GET /users/{id}/progress."""

    metric: str
    period: str
    sport: str | None
    series: list[ProgressPoint]
