"""Progress: totals, streaks, personal records, training load, goals and insights per user (pure, incremental)."""

from .facts import ActivityFact
from .goals import GOAL_TYPES, Goal
from .user_stats import UserStats, recompute

__all__ = ["GOAL_TYPES", "ActivityFact", "Goal", "UserStats", "recompute"]
