"""Goal and stats schemas."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from serve_app.schemas.activities import ActivityType

GoalType = Literal[
    "weekly_distance", "monthly_distance", "yearly_distance", "weekly_duration", "monthly_duration", "yearly_duration",
    "weekly_count", "monthly_count", "yearly_count", "weekly_elevation", "monthly_elevation", "yearly_elevation",
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
    """A goal with its current period's progress and its history."""

    model_config = ConfigDict(extra="allow")

    goal_id: uuid.UUID
    goal_type: str
    target_value: float
    period: str
    start_date: dt.date
    end_date: dt.date | None
    current_period_progress: float
    current_period_start: dt.date
    current_period_end: dt.date
    achieved: bool
    history: list[dict[str, Any]] = []
