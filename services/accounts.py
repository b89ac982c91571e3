"""Account use cases: registration, the profile, linked devices. (Login and tokens: services/auth.py; erasure of
everything an account has: services/erasure.py.)

Registration does not tell anyone whether an email already has an account: a new address and a taken one get the
same answer (the caller logs in next), take the same work (the password is always hashed) and the taken account is
left untouched. It is rate limited per client address and globally *before* the argon2 work, and refused while the
limiter (Redis) is down, so anonymous callers cannot turn it into a CPU sink. See docs/accounts.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.accounts import normalize_email
from domain.errors import Invalid, NotFound
from services.passwords import Passwords
from services.ports import Row, UnitOfWorkFactory
from services.ratelimits import Limiter, RateLimits, register_buckets
from services.tokens import new_device_token, token_hash

STATS_FIELDS = frozenset({"timezone", "max_hr", "resting_hr", "sex", "birth_year"})  # what the stats shard reads


@dataclass(frozen=True)
class NewUser:
    """A registration, validated by its wire schema."""

    email: str
    password: str
    name: str
    timezone: str = "UTC"
    birth_year: int | None = None
    sex: str | None = None
    weight_kg: float | None = None
    max_hr: int | None = None
    resting_hr: int | None = None
    preferences: Mapping[str, Any] = field(default_factory=dict)

    def profile(self) -> dict[str, Any]:
        """The profile columns."""
        return {
            "name": self.name,
            "timezone": self.timezone,
            "birth_year": self.birth_year,
            "sex": self.sex,
            "weight_kg": self.weight_kg,
            "max_hr": self.max_hr,
            "resting_hr": self.resting_hr,
        }


class AccountService:
    """Register, read and edit the profile, link and unlink devices."""

    def __init__(self, uow: UnitOfWorkFactory, passwords: Passwords, limiter: Limiter, limits: RateLimits) -> None:
        self.uow = uow
        self.passwords = passwords
        self.limiter = limiter
        self.limits = limits

    async def register(self, new: NewUser, client_ip: str) -> None:
        """Create the account unless its email (in comparison form) is taken; the caller cannot tell which
        happened. RateLimited (per address, or everyone's bucket) and Unavailable (Redis down) come first."""
        await self.limiter.require(
            register_buckets(self.limits, client_ip),
            ["registrations from this address", "registrations right now"],
            refused="registration is temporarily unavailable, retry later",
        )
        password_hash = await self.passwords.hash(new.password)  # always: a taken email must cost the same
        async with self.uow() as uow:
            if await uow.users.insert(
                uuid.uuid4(), new.email, normalize_email(new.email), password_hash, new.profile(), dict(new.preferences)
            ):
                await uow.commit()

    async def profile(self, user_id: uuid.UUID) -> Row:
        """The user's account as they see it; NotFound if it is gone."""
        async with self.uow() as uow:
            row = await uow.users.get(user_id)
        if row is None:
            raise NotFound("user")
        return row

    async def update_profile(
        self, user_id: uuid.UUID, changes: Mapping[str, Any], preferences: Mapping[str, Any]
    ) -> Row:
        """Change profile fields (None clears an optional one) and merge preference keys. The resting heart rate
        must stay below the maximum, counting the stored value of whichever is not changed. A change the stats
        depend on (time zone, heart rates, sex, birth year) is announced as `user_updated`."""
        async with self.uow() as uow:
            current = await uow.users.get(user_id, for_update=True)
            if current is None:
                raise NotFound("user")
            max_hr = changes.get("max_hr", current["max_hr"])
            resting_hr = changes.get("resting_hr", current["resting_hr"])
            if max_hr is not None and resting_hr is not None and resting_hr >= max_hr:
                raise Invalid.field("resting_hr", "resting_hr must be below max_hr")
            updated = await uow.users.update(user_id, changes, preferences)
            if changes.keys() & STATS_FIELDS:
                uow.emit("user_updated", user_id, user_id)
            await uow.commit()
        return updated

    # ------------------------------------------------------------------ devices

    async def link_device(
        self, user_id: uuid.UUID, kind: str, external_id: str | None, name: str | None
    ) -> tuple[Row, str]:
        """Link a device; returns its row and its token (shown this once: only a hash is kept)."""
        token = new_device_token()
        async with self.uow() as uow:
            row = await uow.devices.insert(user_id, kind, external_id, name, token_hash(token))
            await uow.commit()
        return row, token

    async def devices(self, user_id: uuid.UUID) -> list[Row]:
        """The user's linked devices, oldest first."""
        async with self.uow() as uow:
            return await uow.devices.list(user_id)

    async def device(self, user_id: uuid.UUID, device_id: uuid.UUID) -> Row:
        """One linked device; NotFound for a missing, unlinked or someone else's device."""
        async with self.uow() as uow:
            row = await uow.devices.get(user_id, device_id)
        if row is None:
            raise NotFound("device")
        return row

    async def unlink_device(self, user_id: uuid.UUID, device_id: uuid.UUID) -> None:
        """Unlink a device: its token is refused from now on."""
        async with self.uow() as uow:
            if not await uow.devices.revoke(user_id, device_id):
                raise NotFound("device")
            await uow.commit()
