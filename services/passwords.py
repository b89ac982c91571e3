"""Passwords: argon2id hashes (argon2-cffi), computed off the event loop.

An unknown account costs the same as a wrong password: `verify(None, ...)` checks against a dummy hash made with
the same parameters, so login timing does not tell whether an email has an account. Hashes made with older
parameters are recognised (`needs_rehash`) and replaced at the next successful login.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from services.compute import offload as default_offload
from services.ports import Offload


class Passwords:
    """Hash and verify passwords with one set of argon2id parameters."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int, offload: Offload = default_offload) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._offload = offload
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        """The argon2id hash of a password (its own random salt)."""
        return str(await self._offload(self._hasher.hash, password))

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if `password` matches `stored`; for an unknown account (None) the same work, then False."""
        if stored is None:
            if self._dummy is None:
                self._dummy = str(await self._offload(self._hasher.hash, secrets.token_urlsafe(16)))
            await self._offload(self._check, self._dummy, password)
            return False
        return bool(await self._offload(self._check, stored, password))

    def needs_rehash(self, stored: str) -> bool:
        """True if a stored hash was made with other parameters than these."""
        return bool(self._hasher.check_needs_rehash(stored))

    def _check(self, stored: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False
