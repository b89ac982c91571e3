"""FastAPI dependencies that hand a route its service (the FastAPI full-stack template's `Annotated` style).

    async def get_activity(activity_id: uuid.UUID, who: CurrentUser, svc: Activities) -> ...

Each alias resolves to the service this replica built in `serve_app.resources` from its settings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from serve_app.resources import Resources, get_resources
from services.accounts import AccountService
from services.activities import ActivityService
from services.auth import AuthService
from services.erasure import ErasureService
from services.progress import ProgressService


def _activities() -> ActivityService:
    return get_resources().activities


def _progress() -> ProgressService:
    return get_resources().progress


def _accounts() -> AccountService:
    return get_resources().accounts


def _auth() -> AuthService:
    return get_resources().auth


def _erasure() -> ErasureService:
    return get_resources().erasure


Res = Annotated[Resources, Depends(get_resources)]
Activities = Annotated[ActivityService, Depends(_activities)]
Progress = Annotated[ProgressService, Depends(_progress)]
Accounts = Annotated[AccountService, Depends(_accounts)]
Auth = Annotated[AuthService, Depends(_auth)]
Erasure = Annotated[ErasureService, Depends(_erasure)]
