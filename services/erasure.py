"""Account erasure: everything a user has, in every store and every actor, in an order that lets nothing survive.

1. Actors: every WorkoutShard closes the user's live sessions (after any batch in flight) and refuses the user from
   then on (`WorkoutShards.end_user`), so no sample of theirs is written after this point. A shard that cannot be
   reached makes the erasure fail with Unavailable (503, retry): nothing is deleted yet.
2. Postgres, one transaction: the sample partitions of every activity of theirs (saved and live: a live row records
   its partitions before writing there) are queued for purging, their outbox events are deleted, the user row is
   deleted (cascading to sessions, refresh tokens, devices, activities, live sessions and share links, goals, stats
   checkpoints), and `user_deleted` is emitted: the StatsShard that holds the user drops them on it.
3. Sockets: `account_deleted` on `stride:revocations` (every replica's hub closes the user's sockets and those
   following the user's workouts); this replica forgets the user's sessions.
4. Cassandra: the purge queue is drained now (or, with Cassandra down, by the janitor, retrying until done).
5. Redis: every key under `u:{user_id}:` and the login bucket of their email's digest.

Steps 3-5 are best effort after the commit: what they miss is retried (purges) or expires on its own (Redis).
"""

from __future__ import annotations

import logging
import uuid

from domain.errors import NotFound, Unavailable
from services.ports import Purges, UnitOfWorkFactory, UserKeys, WorkoutShards
from services.ratelimits import login_account_key
from services.sessions import SessionGuard

log = logging.getLogger("stride.erasure")

ACCOUNT_DELETED = "account_deleted"


class ErasureService:
    """Erase an account everywhere."""

    def __init__(
        self, uow: UnitOfWorkFactory, workouts: WorkoutShards, purges: Purges, keys: UserKeys, guard: SessionGuard
    ) -> None:
        self.uow = uow
        self.workouts = workouts
        self.purges = purges
        self.keys = keys
        self.guard = guard

    async def erase(self, user_id: uuid.UUID) -> None:
        """Delete the user and all their data (order in the module docstring); NotFound if there is no such user."""
        async with self.uow() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFound("user")
        closed = await self.workouts.end_user(user_id)
        async with self.uow() as uow:
            erased = await uow.users.erase(user_id)
            if erased is None:  # a concurrent erasure won
                raise NotFound("user")
            uow.emit("user_deleted", user_id, user_id)
            await uow.commit()
        log.info("erased user %s (%d live workouts closed)", user_id, len(closed))
        await self.guard.revoke(user_id, None, ACCOUNT_DELETED)
        try:
            await self.purges.run_pending()
        except Unavailable as exc:
            log.warning("sample purge for erased user %s deferred to the janitor: %s", user_id, exc)
        try:
            await self.keys.purge(user_id, [login_account_key(erased["email_key"])])
        except Unavailable as exc:  # Redis holds nothing that is not elsewhere; every key expires
            log.warning("Redis keys of erased user %s left to expire: %s", user_id, exc)
