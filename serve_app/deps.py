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
from services.live import LiveService
from services.progress import ProgressService

# `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread hand-off per request
# that cost more than the whole authenticated cached read (measured with py-spy under wrk, loadtest/README.md).


async def _resources() -> Resources:
    return get_resources()


async def _activities() -> ActivityService:
    return get_resources().activities


async def _live() -> LiveService:
    return get_resources().live


async def _progress() -> ProgressService:
    return get_resources().progress


async def _accounts() -> AccountService:
    return get_resources().accounts


async def _auth() -> AuthService:
    return get_resources().auth


async def _erasure() -> ErasureService:
    return get_resources().erasure


Res = Annotated[Resources, Depends(_resources)]
Activities = Annotated[ActivityService, Depends(_activities)]
Live = Annotated[LiveService, Depends(_live)]
Progress = Annotated[ProgressService, Depends(_progress)]
Accounts = Annotated[AccountService, Depends(_accounts)]
Auth = Annotated[AuthService, Depends(_auth)]
Erasure = Annotated[ErasureService, Depends(_erasure)]
