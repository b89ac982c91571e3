"""Progress: stats, records, progress series and goals. Routes parse, call one ProgressService function, answer.

Reads answer ready JSON bytes with an `ETag`; a request whose `If-None-Match` names it gets 304 and no body.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status

from serve_app.auth import CurrentUser, require_self
from serve_app.conditional import NOT_MODIFIED, IfNoneMatch, answer
from serve_app.deps import Progress
from serve_app.schemas.activities import ActivityType
from serve_app.schemas.progress import GoalCreate, GoalPublic, GoalUpdate, ProgressSeries

router = APIRouter(tags=["progress"])

UserRef = Annotated[str, Path(max_length=64, description="a user id, or `me`")]
_CACHED = NOT_MODIFIED


@router.get("/users/{user_id}/stats", responses={200: {"description": "the user's stats"}, **_CACHED})
async def get_stats(user_id: UserRef, who: CurrentUser, svc: Progress, if_none_match: IfNoneMatch = None) -> Response:
    """ytd_distance, lifetime_workouts, totals per sport and period, streaks, personal records, training load."""
    return answer(await svc.stats(require_self(who, user_id)), if_none_match)


@router.get("/users/{user_id}/records", responses={200: {"description": "records and their history"}, **_CACHED})
async def get_records(user_id: UserRef, who: CurrentUser, svc: Progress, if_none_match: IfNoneMatch = None) -> Response:
    """Personal records with the history of when each was set and by which activity."""
    return answer(await svc.records(require_self(who, user_id)), if_none_match)


@router.get("/users/{user_id}/progress", responses={200: {"model": ProgressSeries}, **_CACHED})
async def get_progress(
    user_id: UserRef,
    who: CurrentUser,
    svc: Progress,
    metric: Literal["distance", "duration", "count", "elevation", "load"] = "distance",
    period: Literal["weekly", "monthly"] = "weekly",
    sport: ActivityType | None = None,
    from_: Annotated[dt.date | None, Query(alias="from")] = None,
    to: dt.date | None = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A zero-filled series of one metric per week or month (at most 10 years; default: the last 12 periods)."""
    doc = await svc.progress(require_self(who, user_id), metric, period, sport, from_, to)
    return answer(doc, if_none_match)


@router.get("/users/{user_id}/goals", responses={200: {"model": list[GoalPublic]}, **_CACHED})
async def list_goals(user_id: UserRef, who: CurrentUser, svc: Progress, if_none_match: IfNoneMatch = None) -> Response:
    """Every goal with its current period's progress and its recent periods."""
    return answer(await svc.goals(require_self(who, user_id)), if_none_match)


@router.post(
    "/goals",
    status_code=status.HTTP_201_CREATED,
    response_model=GoalPublic,
    responses={409: {"description": "the user already has the maximum number of goals"}},
)
async def create_goal(body: GoalCreate, who: CurrentUser, svc: Progress) -> dict[str, Any]:
    """A target per week, month or year, optionally for one sport (start within 5 years of today)."""
    return await svc.create_goal(require_self(who, body.user_id), body.model_dump(exclude={"user_id"}))


@router.patch("/goals/{goal_id}", response_model=GoalPublic)
async def update_goal(goal_id: uuid.UUID, body: GoalUpdate, who: CurrentUser, svc: Progress) -> dict[str, Any]:
    """Change a goal's target, dates or sport."""
    return await svc.update_goal(who.user_id, goal_id, body.model_dump(exclude_unset=True))


@router.delete("/goals/{goal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_goal(goal_id: uuid.UUID, who: CurrentUser, svc: Progress) -> Response:
    """Delete a goal."""
    await svc.delete_goal(who.user_id, goal_id)
    return Response(status_code=204)
