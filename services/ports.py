"""The narrow interfaces the use cases depend on. `storage/` and `actors/gateway.py` implement them for real;
`services/fakes/` implements them in memory for unit tests. Nothing here knows HTTP, SQL or Ray.

Rows cross these ports as plain dicts (column name -> value) because that is what the HTTP schemas validate and
the stats code reads; each method's docstring names the keys it returns.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from domain.events import RetryPolicy
from domain.profile import AthleteProfile
from domain.progress.facts import ActivityFact
from domain.ratelimit import Bucket, BucketResult
from domain.track import Track

Row = dict[str, Any]


# ---------------------------------------------------------------------------------------------- Postgres repositories


class ActivityRepository(Protocol):
    """Activity summaries (Postgres `activities`, `strength_sets`, `activity_insights`)."""

    async def by_client_id(self, user_id: uuid.UUID, client_id: str) -> Row | None:
        """{activity_id, request_hash} of the activity a client id created, if any."""

    async def insert(self, row: Row) -> bool:
        """Insert a summary row; False when a twin (same user + client id, or same id) already exists."""

    async def insert_sets(self, activity_id: uuid.UUID, sets: Sequence[Row]) -> None:
        """Store strength sets {exercise, reps, weight_kg, rpe, rest_s} in order."""

    async def get(self, activity_id: uuid.UUID, user_id: uuid.UUID, *, for_update: bool = False) -> Row | None:
        """Every column of a user's activity plus `sets` and `insights`; None if missing or someone else's."""

    async def status(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> str | None:
        """'live' or 'saved' for a user's activity, None if missing or someone else's."""

    async def list(
        self,
        user_id: uuid.UUID,
        *,
        limit: int,
        offset: int,
        before: dt.datetime | None,
        after: dt.datetime | None,
        sport: str | None,
    ) -> list[Row]:
        """A user's saved activities (summary columns), newest first."""

    async def update(self, activity_id: uuid.UUID, changes: Row) -> Row:
        """Apply column changes and bump the version; returns {version, updated_at}."""

    async def delete(self, activity_id: uuid.UUID, buckets: Sequence[int] | None = None) -> None:
        """Delete the summary and queue its sample partitions (its own, or `buckets`) for purging."""

    async def athlete_profile(self, user_id: uuid.UUID) -> AthleteProfile:
        """The profile processing uses (defaults where the user left a field empty)."""


class UnitOfWork(Protocol):
    """One Postgres transaction and the repositories bound to it. Events emitted through it are written to the
    outbox in the same transaction at `commit()`; leaving the block without `commit()` rolls everything back."""

    activities: ActivityRepository
    users: UserRepository
    sessions: LoginSessionRepository
    devices: DeviceRepository
    live: LiveRepository
    goals: GoalRepository
    stats: StatsRepository
    outbox: OutboxRepository

    def emit(
        self, event_type: str, user_id: uuid.UUID, aggregate_id: uuid.UUID, payload: Row | None = None
    ) -> uuid.UUID:
        """Announce a change; written to the outbox at commit (and dropped on rollback). Returns the event id."""

    async def commit(self) -> None:
        """Write the emitted events and commit."""

    async def rollback(self) -> None:
        """Undo everything since the block began (also what leaving without commit does)."""

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    """A new unit of work; `read_only=True` for blocks that only read (one round trip per query, no transaction
    around them, and `commit()` refuses)."""

    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...


# ---------------------------------------------------------------------------------------------- Cassandra samples


class SampleStore(Protocol):
    """Every GPS and sensor point, in columnar chunks (Cassandra `samples`)."""

    def buckets_of(self, track: Track) -> list[int]:
        """The time buckets (partitions) a track's points fall in."""

    async def mark_pending(self, activity_id: uuid.UUID, user_id: uuid.UUID, buckets: Sequence[int]) -> None:
        """Record that samples are written ahead of their summary (the reconciler purges them if it never commits)."""

    async def clear_pending(self, activity_id: uuid.UUID) -> None:
        """The summary committed: the samples are no longer at risk of being orphans."""

    async def write_track(self, activity_id: uuid.UUID, track: Track) -> list[int]:
        """Write every point (idempotent upserts); returns the sorted buckets written."""

    async def read_track(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> Track:
        """Every stored point of an activity, in time order."""

    async def write_batch(self, activity_id: uuid.UUID, seq: int, track: Track) -> int:
        """Store live batch `seq` (idempotent); returns its bucket."""

    async def read_batches(self, activity_id: uuid.UUID) -> dict[int, Track]:
        """Every stored live batch of an activity, by sequence number."""

    async def purge(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> None:
        """Delete sample partitions now (idempotent)."""


class Purges(Protocol):
    """The queue of sample partitions to delete, drained after a delete and by the janitor."""

    async def run_pending(self, limit: int = 200) -> int:
        """Purge queued partitions, removing each queue row after Cassandra confirmed; returns how many."""


# ---------------------------------------------------------------------------------------------- actors (gateway)


class WorkoutShards(Protocol):
    """The live-workout actors (actors.gateway.WorkoutShardsGateway). Every method returns a plain body and raises
    domain errors: NotFound (no such live workout of this user, or it already ended), Conflict (a batch too far
    ahead of the acknowledged ones), Invalid (points outside the workout's time span), TooLarge (the workout's
    point cap), Unavailable (Cassandra/Postgres down, or the shard restarting: retry)."""

    async def ingest(self, activity_id: uuid.UUID, user_id: uuid.UUID, seq: int, track: Track, absolute: bool) -> Row:
        """Store batch `seq` durably (Cassandra) and only then acknowledge it: {acked_seq, missing, highest_seq,
        duplicate, metrics}. A batch already stored is acknowledged again with duplicate=True, not written twice.
        `absolute`: `track.t` holds epoch seconds (the shard subtracts the workout's start)."""

    async def set_paused(self, activity_id: uuid.UUID, user_id: uuid.UUID, paused: bool) -> Row:
        """Manual pause/resume at the latest sample time; returns the live metrics."""

    async def metrics(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> Row:
        """The live metrics (the session is rebuilt from storage if its shard restarted)."""

    async def finish(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> Row:
        """Process every stored sample with the upload's code path and save the activity: {activity_id}.
        The janitor calls this for idle sessions no shard holds (a shard finishes the idle sessions it holds
        itself): it raises NotFound when the workout is not live any more (it used to return {"status": 404})."""

    async def discard(self, activity_id: uuid.UUID, user_id: uuid.UUID) -> Row:
        """Throw a live workout away (row, share links, samples): {activity_id}."""

    async def end_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        """Account erasure, step 1 of 3: reach every shard; each closes the user's live sessions under their locks
        (an in-flight batch finishes first), refuses every later call for that user, and announces "discarded" to
        the workouts' sockets. Returns the ids of the live workouts that were open in memory.

        The erasure (accounts) must then, in this order:
        2. in its Postgres transaction, queue a purge of every activity of the user whose `sample_buckets` is not
           empty (`INSERT INTO sample_purges ... SELECT activity_id, sample_buckets FROM activities WHERE user_id`):
           live workouts are included, because a live row records the sample partitions it writes to before it
           writes there (LiveRepository.record_buckets; status 'live' rows start with [0]); then delete the user
           (live_sessions and live_shares go with it by ON DELETE CASCADE);
        3. after the commit, drain the purge queue (or leave it to the janitor), delete the Redis keys `u:{user_id}:*`
           (the live metrics key is `u:{user_id}:live:{activity_id}`), and publish the account_deleted revocation
           on `stride:revocations` (see LiveFeed) so every replica closes the user's sockets.
        Calling end_user before the delete matters: after it returns no shard writes a sample of that user again,
        so the purge cannot race a late batch. Idempotent; raises Unavailable if a shard cannot be reached."""


# ---------------------------------------------------------------------------------------------- live workouts


class LiveRepository(Protocol):
    """Live workouts in Postgres: the `activities` row (status 'live' until finished, request_hash 'live'), its
    `live_sessions` row (pause events, last activity) and its `live_shares` (read-only follow links)."""

    async def create(
        self, activity_id: uuid.UUID, user_id: uuid.UUID, sport: str, start_time: dt.datetime, client_id: str | None
    ) -> bool:
        """Insert the live activity (sample_buckets [0]) and its session; False if a twin (same id, or same user +
        client id) exists."""

    async def get(self, activity_id: uuid.UUID) -> Row | None:
        """{activity_id, user_id, type, start_time, pauses, sample_buckets} of a live activity; None if missing or
        no longer live. `pauses` is [{"type": "pause" | "resume", "t": seconds from start}, ...] in order."""

    async def save_pauses(self, activity_id: uuid.UUID, pauses: Sequence[Row]) -> None:
        """Persist the pause/resume events (and mark the session active now)."""

    async def record_buckets(self, activity_id: uuid.UUID, buckets: Sequence[int]) -> None:
        """Record the sample partitions a live workout writes to, BEFORE writing there: what discard and account
        erasure purge for a workout that never finished."""

    async def touch(self, activity_ids: Sequence[uuid.UUID]) -> None:
        """These sessions were active just now (idle detection survives a shard restart)."""

    async def idle(self, idle_s: float, limit: int = 100) -> list[Row]:
        """{activity_id, user_id} of live sessions not active for idle_s seconds, oldest first."""

    async def end(self, activity_id: uuid.UUID) -> None:
        """The workout ended (finished or discarded): revoke its share links and drop the session row."""

    async def create_share(self, activity_id: uuid.UUID, user_id: uuid.UUID, token_hash: bytes) -> Row:
        """A new share link: {share_id, created_at}. Only the token's sha256 is stored."""

    async def revoke_share(self, activity_id: uuid.UUID, share_id: uuid.UUID) -> bool:
        """Revoke one link of an activity; False if there is no such link."""

    async def share_target(self, token_hash: bytes) -> Row | None:
        """{share_id, activity_id, user_id} a live, unrevoked share token opens; None otherwise."""


class LiveFeed(Protocol):
    """The Redis side of live workouts: the latest metrics of each workout (a key under the owner's prefix,
    `u:{user_id}:live:{activity_id}`) and the pub/sub fan-out to sockets on any replica (channel
    `live:{activity_id}`). Best effort: Redis holds nothing that is not elsewhere, so a failure is logged, never
    raised.

    Socket revocations travel on the channel `stride:revocations` as JSON; every replica's socket hub closes what
    matches within seconds:
    - accounts publishes `{"user_id": "...", "session_id": "..." | null, "reason": "logout" | "refresh_reuse" |
      "account_deleted"}` (session_id null = every session of the user; account_deleted also closes the sockets of
      people following that user's workouts);
    - live publishes `{"share_id": "...", "activity_id": "...", "reason": "share_revoked"}` (announce_share_revoked).
    Pub/sub is at most once: each hub also re-checks its sockets' credentials every `live_ws_recheck_s`."""

    async def latest(self, user_id: uuid.UUID, activity_id: uuid.UUID) -> Row | None:
        """The last published metrics of a workout, if Redis has them."""

    async def publish(self, user_id: uuid.UUID, activity_id: uuid.UUID, message: Row) -> None:
        """Store `message` as the latest metrics and publish it to the workout's sockets."""

    async def announce_end(self, user_id: uuid.UUID, activity_id: uuid.UUID, how: str) -> None:
        """The workout ended (`how`: finished | discarded): drop its latest metrics and tell its sockets."""

    async def announce_share_revoked(self, share_id: uuid.UUID, activity_id: uuid.UUID) -> None:
        """A share link was revoked: sockets opened with it close."""


# ---------------------------------------------------------------------------------------------- progress


class GoalRepository(Protocol):
    """Goal definitions (Postgres `goals`); rows {goal_id, user_id, goal_type, target_value, sport, start_date,
    end_date, created_at, updated_at}."""

    async def list(self, user_id: uuid.UUID) -> list[Row]:
        """A user's goals, oldest first."""

    async def get(self, goal_id: uuid.UUID, user_id: uuid.UUID) -> Row | None:
        """One of the user's goals; None if missing or someone else's."""

    async def count_locked(self, user_id: uuid.UUID) -> int:
        """How many goals the user has, holding a per-user lock until the transaction ends."""

    async def insert(self, row: Row) -> None:
        """A new goal."""

    async def update(self, goal_id: uuid.UUID, changes: Row) -> None:
        """Change goal_type, target_value, sport, start_date or end_date."""

    async def delete(self, goal_id: uuid.UUID) -> bool:
        """Delete a goal; False if it did not exist."""


class StatsRepository(Protocol):
    """What the stats actor reads and writes in Postgres (users, activities, `user_stats`, `activity_insights`)."""

    async def lock_user(self, user_id: uuid.UUID) -> bool:
        """Hold the user (shared) until the transaction ends; False when the user no longer exists."""

    async def user_context(self, user_id: uuid.UUID) -> Row | None:
        """{timezone, max_hr, resting_hr, sex, birth_year}; None if the user is gone."""

    async def fact(self, activity_id: uuid.UUID) -> ActivityFact | None:
        """The current fact of a saved activity; None once deleted (or while live)."""

    async def load_checkpoint(self, user_id: uuid.UUID) -> Row | None:
        """The last committed UserStats state."""

    async def save_checkpoint(self, user_id: uuid.UUID, state: Row) -> None:
        """Upsert the state in this transaction."""

    async def save_insights(self, activity_id: uuid.UUID, insights: list[Row]) -> None:
        """Store an activity's insights (nothing if the activity is gone)."""


class OutboxRepository(Protocol):
    """Delivery state of the outbox (storage/outbox.py): pending deliveries per consumer, dead letters, pruning."""

    async def due(self, consumer: str, limit: int) -> list[Row]:
        """Due deliveries with their events: {seq, attempts, event_id, event_type, user_id, aggregate_id, payload,
        created_at}."""

    async def delivered(self, consumer: str, seqs: Sequence[int]) -> None:
        """These deliveries are done."""

    async def failed(self, consumer: str, failures: Mapping[int, str], policy: RetryPolicy) -> list[int]:
        """Count a failed attempt and back off; returns the seqs moved to the dead letters now."""

    async def dead_letters(self, limit: int = 100, consumer: str | None = None) -> list[Row]:
        """Dead letters, oldest first."""

    async def replay(self, seq: int | None = None, consumer: str | None = None) -> int:
        """Dead letters (one, or all) back to pending; returns how many."""

    async def prune(self, retention_s: float, limit: int = 1000) -> int:
        """Delete outbox rows older than the retention with nothing pending and no dead letter."""

    async def backlog(self) -> dict[str, dict[str, int]]:
        """{consumer: {pending, dead}}."""


class StatsCache(Protocol):
    """The read cache in front of the stats actors (Redis), holding opaque bytes per (user, read kind, params key).
    Every call raises Unavailable when the cache is down."""

    async def get(self, user_id: uuid.UUID, what: str, key: str) -> tuple[str, bytes | None]:
        """(the user's cache version, the value cached under it or None): one round trip."""

    async def put(self, user_id: uuid.UUID, what: str, key: str, version: str, value: bytes) -> None:
        """Cache a value, unless the user's version moved on since `version` was read."""

    async def invalidate(self, user_id: uuid.UUID) -> None:
        """Bump the user's version and drop the cached values."""

    async def forget(self, user_id: uuid.UUID) -> None:
        """The user is erased: delete their version and cached values (nothing stays under their prefix)."""


class StatsShards(Protocol):
    """The per-user stats actors, reached through actors.gateway (domain errors arrive as raised)."""

    async def read(self, user_id: uuid.UUID, what: str, params: Row | None = None) -> Any:
        """'stats', 'records', 'goals', 'progress' (metric, period, sport, start, end) or 'insights'."""

    async def reload_goals(self, user_id: uuid.UUID) -> int:
        """Re-read the user's goals now (returns the goal_achieved events it announced)."""


# ---------------------------------------------------------------------------------------------- accounts


class UserRepository(Protocol):
    """Accounts (Postgres `users`). Public rows are {user_id, email, name, timezone, birth_year, sex, weight_kg,
    max_hr, resting_hr, preferences, created_at, updated_at}; the password hash leaves only through credentials().
    Emails are matched only by `email_key` (domain.accounts.normalize_email), unique in the database."""

    async def insert(
        self,
        user_id: uuid.UUID,
        email: str,
        email_key: str,
        password_hash: str,
        profile: Mapping[str, Any],
        preferences: Mapping[str, Any],
    ) -> bool:
        """Create a user; False (nothing written) when email_key is taken."""

    async def get(self, user_id: uuid.UUID, *, for_update: bool = False) -> Row | None:
        """The public row, or None."""

    async def credentials(self, email_key: str) -> Row | None:
        """{user_id, password_hash} of the account with this email key, or None."""

    async def set_password_hash(self, user_id: uuid.UUID, password_hash: str) -> None:
        """Replace the hash (rehash with newer parameters)."""

    async def update(self, user_id: uuid.UUID, changes: Mapping[str, Any], preferences: Mapping[str, Any]) -> Row:
        """Set profile columns (None clears), merge preference keys, bump updated_at; the new public row."""

    async def erase(self, user_id: uuid.UUID) -> Row | None:
        """Queue the sample purges of all the user's activities, delete their outbox events and the user (with
        everything that references it); {email_key} of the erased account, None if there was none."""


class LoginSessionRepository(Protocol):
    """Login sessions (`auth_sessions`) and their rotated refresh tokens (`refresh_tokens`, sha256 only)."""

    async def create(self, user_id: uuid.UUID, refresh_hash: bytes, refresh_ttl_s: int) -> uuid.UUID:
        """A new session with its first refresh token; its id."""

    async def add_refresh(self, session_id: uuid.UUID, user_id: uuid.UUID, refresh_hash: bytes, ttl_s: int) -> None:
        """Another refresh token in a session's family."""

    async def lock_refresh(self, refresh_hash: bytes) -> Row | None:
        """{session_id, user_id, used_at, expired, revoked_at}, locked with its session until the transaction ends."""

    async def mark_refresh_used(self, refresh_hash: bytes) -> None:
        """Consume a refresh token."""

    async def revoke(self, session_id: uuid.UUID, reason: str) -> None:
        """Revoke a session (the first reason is kept)."""

    async def state(self, session_id: uuid.UUID, user_id: uuid.UUID) -> bool | None:
        """True active, False revoked, None when there is no such session of this user."""


class DeviceRepository(Protocol):
    """Linked devices (`devices`): rows {device_id, user_id, kind, external_id, name, created_at, last_used_at}."""

    async def insert(
        self, user_id: uuid.UUID, kind: str, external_id: str | None, name: str | None, token_hash: bytes
    ) -> Row:
        """Link a device whose token hashes to token_hash."""

    async def list(self, user_id: uuid.UUID) -> list[Row]:
        """Linked devices, oldest first."""

    async def get(self, user_id: uuid.UUID, device_id: uuid.UUID) -> Row | None:
        """One linked device of this user."""

    async def revoke(self, user_id: uuid.UUID, device_id: uuid.UUID) -> bool:
        """Unlink; False if it was not a linked device of this user."""

    async def by_token(self, token_hash: bytes) -> Row | None:
        """{device_id, user_id} of the linked device with this token (its last use is recorded)."""


class RateLimiter(Protocol):
    """Token buckets (Redis, storage/auth_state.py). Raises Unavailable('redis') when Redis does not answer."""

    async def take(self, buckets: Sequence[Bucket]) -> list[BucketResult]:
        """Take every bucket's cost from every bucket, or from none if one is short: one answer per bucket."""


class SessionGate(Protocol):
    """Login-session states in Redis: 'active', 'revoked' or None (unknown: ask Postgres). Raises Unavailable."""

    async def check(
        self, user_id: uuid.UUID, session_id: uuid.UUID, bucket: Bucket, *, mark_active_s: int = 0
    ) -> tuple[str | None, BucketResult | None]:
        """One round trip: (the session's state, the bucket's answer if a token was taken). A token is taken only
        for an active session; mark_active_s > 0 records the session active first."""

    async def state(self, user_id: uuid.UUID, session_id: uuid.UUID) -> str | None:
        """The recorded state, taking no token."""

    async def mark_active(self, user_id: uuid.UUID, session_id: uuid.UUID, ttl_s: int) -> None:
        """Record a session active for ttl_s."""

    async def mark_revoked(self, user_id: uuid.UUID, session_id: uuid.UUID, ttl_s: int) -> None:
        """Record a session revoked for ttl_s."""


class Revocations(Protocol):
    """Telling every replica that credentials died (Redis; see LiveFeed for the message format)."""

    async def revoke(self, user_id: uuid.UUID, session_id: uuid.UUID | None, reason: str, ttl_s: int) -> None:
        """Mark the session revoked (if named) and publish {user_id, session_id, reason} on `stride:revocations`."""


class UserKeys(Protocol):
    """Every Redis key about a user (under `u:{user_id}:`)."""

    async def purge(self, user_id: uuid.UUID, extra_keys: Sequence[str] = ()) -> int:
        """Delete them all, and extra_keys; how many existed."""


# ---------------------------------------------------------------------------------------------- CPU work


class Offload(Protocol):
    """Runs CPU-bound work (parsing, hashing, processing) off the event loop: services.compute.offload."""

    async def __call__(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...
