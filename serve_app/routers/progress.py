"""Progress: stats, records, progress series and goals."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status

from serve_app.errors import ApiError
from serve_app.progress_service import cached_read, shard_call
from serve_app.resources import Resources, get_resources
from serve_app.schemas.activities import ActivityType
from serve_app.schemas.progress import GoalCreate, GoalPublic, GoalUpdate
from serve_app.security import CurrentUser, require_self
from storage import progress as repo

router = APIRouter(tags=["progress"])
Res = Annotated[Resources, Depends(get_resources)]


@router.get("/users/{user_id}/stats")
async def get_stats(user_id: str, who: CurrentUser, res: Res) -> dict[str, Any]:
    """ytd_distance, lifetime_workouts, totals per sport and period, streaks, personal records, training load."""
    return await cached_read(res, require_self(who, user_id), "stats")


@router.get("/users/{user_id}/records")
async def get_records(user_id: str, who: CurrentUser, res: Res) -> dict[str, Any]:
    """Personal records with the history of when each was set and by which activity."""
    return await cached_read(res, require_self(who, user_id), "records")


@router.get("/users/{user_id}/progress")
async def get_progress(user_id: str, who: CurrentUser, res: Res,
                       metric: Literal["distance", "duration", "count", "elevation", "load"] = "distance",
                       period: Literal["weekly", "monthly"] = "weekly", sport: ActivityType | None = None,
                       from_: Annotated[dt.date | None, Query(alias="from")] = None,
                       to: dt.date | None = None) -> dict[str, Any]:
    """A zero-filled series of one metric per week or month."""
    if from_ and to and from_ > to:
        raise ApiError(422, "invalid request: from", details=[{"field": "from", "message": "after to", "type": "value_error"}])
    params = {"metric": metric, "period": period, "sport": sport, "start": from_, "end": to}
    series = await cached_read(res, require_self(who, user_id), "progress", params)
    return {"metric": metric, "period": period, "sport": sport, "series": series}


@router.get("/users/{user_id}/goals", response_model=list[GoalPublic])
async def list_goals(user_id: str, who: CurrentUser, res: Res) -> list[dict[str, Any]]:
    """Every goal with its current period's progress and past periods."""
    return await cached_read(res, require_self(who, user_id), "goals")


async def _goal_view(res: Resources, user_id: uuid.UUID, goal_id: uuid.UUID) -> dict[str, Any]:
    views = await shard_call(res, user_id, "read", "goals", None)
    return next(v for v in views if v["goal_id"] == str(goal_id))


def _check_goal(row: dict[str, Any]) -> None:
    try:
        repo.goal_from_row(row)
    except ValueError as exc:
        raise ApiError(422, f"invalid request: {exc}", details=[{"field": "goal", "message": str(exc), "type": "value_error"}]) from exc


@router.post("/goals", status_code=status.HTTP_201_CREATED, response_model=GoalPublic)
async def create_goal(body: GoalCreate, who: CurrentUser, res: Res) -> dict[str, Any]:
    """A target per week, month or year, optionally for one sport."""
    user_id = require_self(who, body.user_id)
    goal_id = uuid.uuid4()
    row = {"goal_id": goal_id, **body.model_dump(exclude={"user_id"})}
    _check_goal(row)
    async with res.pg.connection() as conn:
        await conn.execute(
            "INSERT INTO goals (goal_id, user_id, goal_type, target_value, sport, start_date, end_date)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (goal_id, user_id, body.goal_type, body.target_value, body.sport, body.start_date, body.end_date))
    await shard_call(res, user_id, "reload_goals")
    return await _goal_view(res, user_id, goal_id)


async def _own_goal(res: Resources, user_id: uuid.UUID, goal_id: uuid.UUID) -> dict[str, Any]:
    async with res.pg.connection() as conn:
        cur = await conn.execute(f"SELECT {repo.GOAL_COLUMNS} FROM goals WHERE goal_id = %s AND user_id = %s",
                                 (goal_id, user_id))
        row = await cur.fetchone()
    if row is None:
        raise ApiError(404, "goal not found")
    return row


@router.patch("/goals/{goal_id}", response_model=GoalPublic)
async def update_goal(goal_id: uuid.UUID, body: GoalUpdate, who: CurrentUser, res: Res) -> dict[str, Any]:
    """Change a goal's target, dates or sport."""
    row = await _own_goal(res, who.user_id, goal_id)
    changes = body.model_dump(exclude_unset=True)
    _check_goal({**row, **changes})
    if changes:
        async with res.pg.connection() as conn:
            sets = ", ".join(f"{k} = %s" for k in changes)
            await conn.execute(f"UPDATE goals SET {sets}, updated_at = now() WHERE goal_id = %s", (*changes.values(), goal_id))
        await shard_call(res, who.user_id, "reload_goals")
    return await _goal_view(res, who.user_id, goal_id)


@router.delete("/goals/{goal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_goal(goal_id: uuid.UUID, who: CurrentUser, res: Res) -> Response:
    """Delete a goal."""
    await _own_goal(res, who.user_id, goal_id)
    async with res.pg.connection() as conn:
        await conn.execute("DELETE FROM goals WHERE goal_id = %s", (goal_id,))
    await shard_call(res, who.user_id, "reload_goals")
    return Response(status_code=204)
