"""Accounts, authentication, sessions and erasure on in-memory fakes (no Postgres, Redis or Ray; milliseconds).

The regression tests of issue 9 (#10 registration, #11 email folding, #13 revocations, #15 erasure) and of the
one-round-trip authentication (issue 11) each fail on the code before the fix: named in their docstrings.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from domain.accounts import email_digest, normalize_email
from domain.errors import Invalid, Malformed, NotFound, RateLimited, Unauthenticated, Unavailable
from services.accounts import AccountService, NewUser
from services.auth import AuthService, Principal
from services.erasure import ErasureService
from services.fakes import FakeDatabase, FakePurges, FakeSamples, FakeWorkouts
from services.fakes.accounts import CountingPasswords, FakeAuthState
from services.ratelimits import Limiter, Rate, RateLimits, api_bucket, login_account_key
from services.sessions import LocalSessionCache, SessionGuard
from services.tokens import AccessTokens

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
LIMITS = RateLimits(
    api=Rate(5, 1.0),
    login_ip=Rate(4, 0.1),
    login_account=Rate(3, 0.1),
    register_ip=Rate(3, 0.01),
    register_global=Rate(5, 1.0),
)


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Workouts(FakeWorkouts):
    """FakeWorkouts plus end_user (services.ports.WorkoutShards), recording when it ran."""

    def __init__(self, db: FakeDatabase) -> None:
        super().__init__()
        self.db = db
        self.ended: list[tuple[uuid.UUID, bool]] = []  # (user, whether the user still existed in Postgres)
        self.down = False

    async def end_user(self, user_id: uuid.UUID) -> list[uuid.UUID]:
        if self.down:
            raise Unavailable("live workouts", "shard restarting")
        self.ended.append((user_id, user_id in self.db.tables["users"]))
        closed = [a for a, u in self.sessions.items() if u == user_id]
        for a in closed:
            del self.sessions[a]
        return closed


@dataclass
class World:
    db: FakeDatabase
    redis: FakeAuthState
    passwords: CountingPasswords
    clock: Clock
    auth: AuthService
    accounts: AccountService
    erasure: ErasureService
    samples: FakeSamples
    workouts: Workouts
    pg_opens: list[int]

    def uow_count(self) -> int:
        return self.pg_opens[0]


def world(limits: RateLimits = LIMITS) -> World:
    db = FakeDatabase()
    opens = [0]

    def uow() -> Any:
        opens[0] += 1
        return db.uow()

    redis, passwords, clock = FakeAuthState(), CountingPasswords(), Clock()
    limiter = Limiter(redis)
    guard = SessionGuard(
        uow, redis, redis, limiter, LocalSessionCache(2.0, clock=clock), active_ttl_s=60, revoked_ttl_s=960
    )
    samples, workouts = FakeSamples(), Workouts(db)
    auth = AuthService(uow, passwords, AccessTokens("k" * 40, "stride", 900), guard, limiter, limits, 3600)
    accounts = AccountService(uow, passwords, limiter, limits)
    erasure = ErasureService(uow, workouts, FakePurges(db, samples), redis, guard)
    return World(db, redis, passwords, clock, auth, accounts, erasure, samples, workouts, opens)


def signup(w: World, email: str = "ann@example.com", ip: str = "203.0.113.1", **fields: Any) -> uuid.UUID | None:
    run(w.accounts.register(NewUser(email=email, password=fields.pop("password", PASSWORD), name="Ann", **fields), ip))
    row = run(_credentials(w, email))
    return row["user_id"] if row else None


async def _credentials(w: World, email: str) -> dict[str, Any] | None:
    async with w.db.uow() as uow:
        return await uow.users.credentials(normalize_email(email))


def users(w: World) -> list[dict[str, Any]]:
    return list(w.db.tables["users"].values())


def raises(exc: type[BaseException], fn: Callable[[], Awaitable[Any]]) -> BaseException:
    with pytest.raises(exc) as info:
        run(fn())
    return info.value


# ---------------------------------------------------------------------------------------------- registration (#10)


def test_a_taken_email_gets_the_same_answer_costs_the_same_and_changes_nothing() -> None:
    """Issue 9 #10: the old route answered 409 `email_taken` for a taken email (and 201 with the profile for a
    new one). Now both return None (the route answers the same 202), the password is hashed for both (the same
    argon2 work: a duplicate is not measurably faster), and the existing account keeps its password."""
    w = world()
    first = run(w.accounts.register(NewUser("ann@example.com", PASSWORD, "Ann"), "203.0.113.1"))
    stored = users(w)[0]["password_hash"]
    again = run(w.accounts.register(NewUser("ANN@example.com", "another password!!", "Mallory"), "203.0.113.2"))
    assert first is None and again is None
    assert w.passwords.hashes == 2
    assert len(users(w)) == 1 and users(w)[0]["password_hash"] == stored and users(w)[0]["name"] == "Ann"
    run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))  # the owner's password still works
    raises(Unauthenticated, lambda: w.auth.login("ann@example.com", "another password!!", "198.51.100.1"))


def test_registration_is_rate_limited_per_address_before_any_hashing() -> None:
    """Issue 9 #10: registration had no rate limit and hashed first. The per-address bucket refuses the 4th
    registration from one address before the argon2 work; another address still registers."""
    w = world()
    for i in range(LIMITS.register_ip.capacity):
        signup(w, f"u{i}@example.com", ip="203.0.113.7")
    hashes = w.passwords.hashes
    err = raises(RateLimited, lambda: w.accounts.register(NewUser("late@example.com", PASSWORD, "L"), "203.0.113.7"))
    assert "this address" in str(err) and err.headers["X-RateLimit-Limit"] == str(LIMITS.register_ip.capacity)
    assert w.passwords.hashes == hashes and run(_credentials(w, "late@example.com")) is None
    assert signup(w, "other@example.com", ip="203.0.113.8") is not None


def test_the_global_registration_bucket_bounds_everyone() -> None:
    """Addresses spread wide still share one bucket: the argon2 work anonymous callers cause is bounded."""
    w = world()
    for i in range(LIMITS.register_global.capacity):
        signup(w, f"g{i}@example.com", ip=f"203.0.113.{i + 1}")
    err = raises(RateLimited, lambda: w.accounts.register(NewUser("x@example.com", PASSWORD, "X"), "198.51.100.9"))
    assert "right now" in str(err)
    w.redis.now += 1.0  # one token a second
    assert signup(w, "x@example.com", ip="198.51.100.9") is not None


def test_registration_fails_closed_when_redis_is_down() -> None:
    w = world()
    w.redis.down = True
    err = raises(Unavailable, lambda: w.accounts.register(NewUser("a@example.com", PASSWORD, "A"), "203.0.113.1"))
    assert err.headers["Retry-After"] and w.passwords.hashes == 0 and users(w) == []


# ---------------------------------------------------------------------------------------------- email folding (#11)


@pytest.mark.parametrize(
    "first, second",
    [
        ("İnci@example.com", "i̇nci@example.com"),  # U+0130 and i + U+0307: one address under Unicode folding
        ("straße@example.com", "STRASSE@example.com"),
        ("ﬁona@example.com", "fiona@example.com"),  # the fi ligature
        ("ａｎｎ@example.com", "ann@example.com"),  # fullwidth letters
        ("Kelvin@example.com", "kelvin@example.com"),  # the Kelvin sign
    ],
)
def test_look_alike_spellings_are_one_account_everywhere(first: str, second: str) -> None:
    """Issue 9 #11: Postgres lower() and Python lower() folded `İ` differently, so look-alikes registered twice
    and one account had two login buckets. One function (normalize_email) now keys registration, login and the
    login bucket."""
    w = world()
    user_id = signup(w, first, ip="203.0.113.1")
    assert signup(w, second, ip="203.0.113.2") == user_id and len(users(w)) == 1
    assert normalize_email(first) == normalize_email(second) and email_digest(first) == email_digest(second)
    assert login_account_key(first) == login_account_key(second)
    for spelling in (first, second):
        run(w.auth.login(spelling, PASSWORD, "198.51.100.1"))
    key = login_account_key(first)
    assert w.redis.keys[key][0] == LIMITS.login_account.capacity - 2  # both logins drew from one bucket


def test_a_different_script_is_a_different_address() -> None:
    w = world()
    assert signup(w, "anna@example.com") != signup(w, "аnna@example.com", ip="203.0.113.9")  # Cyrillic а
    assert len(users(w)) == 2


# ---------------------------------------------------------------------------------------------- login


def test_wrong_password_and_unknown_email_are_the_same_401_with_the_same_work() -> None:
    w = world()
    signup(w)
    wrong = raises(Unauthenticated, lambda: w.auth.login("ann@example.com", "nope-nope-nope", "198.51.100.1"))
    unknown = raises(Unauthenticated, lambda: w.auth.login("bob@example.com", "nope-nope-nope", "198.51.100.1"))
    assert (wrong.message, wrong.code, wrong.headers) == (unknown.message, unknown.code, unknown.headers)
    assert wrong.code == "invalid_credentials"


def test_login_buckets_per_account_across_addresses_and_per_address_across_accounts() -> None:
    w = world()
    signup(w)
    for i in range(LIMITS.login_account.capacity):
        raises(Unauthenticated, lambda i=i: w.auth.login("ann@example.com", "guess", f"198.51.100.{i}"))
    err = raises(RateLimited, lambda: w.auth.login("ANN@example.com", PASSWORD, "198.51.100.99"))
    assert "this account" in str(err)
    for i in range(LIMITS.login_ip.capacity):
        raises(Unauthenticated, lambda i=i: w.auth.login(f"spray{i}@example.com", "guess", "192.0.2.1"))
    assert "this address" in str(raises(RateLimited, lambda: w.auth.login("x@example.com", "guess", "192.0.2.1")))


def test_login_fails_closed_when_redis_is_down() -> None:
    w = world()
    signup(w)
    w.redis.down = True
    err = raises(Unavailable, lambda: w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    assert err.message.startswith("login is temporarily unavailable") and err.details == {"service": "redis"}


def test_a_hash_with_older_parameters_is_replaced_at_login() -> None:
    w = world()
    signup(w)
    from argon2 import PasswordHasher

    old = users(w)[0]["password_hash"] = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    assert users(w)[0]["password_hash"] != old and "m=8,t=1,p=1" in users(w)[0]["password_hash"]


# -------------------------------------------------------------------------------------- one round trip (issue 11)


def test_an_authenticated_request_makes_one_redis_round_trip_and_no_postgres_read() -> None:
    """Issue 11: the old dependency made a GET (session state) and then EVALSHA (rate limit): two round trips.
    The session gate answers both in one; Postgres is not read once the session is known."""
    w = world()
    signup(w)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    trips, opens = w.redis.round_trips, w.uow_count()
    for _ in range(3):
        admission = run(w.auth.admit(pair.access_token))
        assert admission.rate is not None and admission.rate.allowed
    assert w.redis.round_trips - trips == 3 and w.uow_count() == opens
    assert [run(w.auth.admit(pair.access_token)).rate.remaining for _ in range(1)] == [LIMITS.api.capacity - 4]


def test_an_unknown_session_state_is_read_from_postgres_once_then_cached_in_redis() -> None:
    w = world()
    signup(w)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    w.redis.keys.clear()  # Redis restarted
    opens = w.uow_count()
    run(w.auth.admit(pair.access_token))
    run(w.auth.admit(pair.access_token))
    assert w.uow_count() == opens + 1


def test_with_redis_down_the_api_fails_open_and_postgres_is_asked_once_per_local_ttl() -> None:
    w = world()
    signup(w)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    w.redis.down = True
    w.clock.now += 10  # the login's own local entry has expired
    opens = w.uow_count()
    for _ in range(LIMITS.api.capacity * 3):  # no rate limit while Redis is down
        assert run(w.auth.admit(pair.access_token)).rate is None
    assert w.uow_count() == opens + 1
    w.clock.now += 2.5
    run(w.auth.admit(pair.access_token))
    assert w.uow_count() == opens + 2


def test_rate_limit_per_user_refuses_then_refills() -> None:
    w = world()
    signup(w)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    for _ in range(LIMITS.api.capacity):
        run(w.auth.admit(pair.access_token))
    err = raises(RateLimited, lambda: w.auth.admit(pair.access_token))
    assert err.headers["X-RateLimit-Remaining"] == "0" and int(err.headers["Retry-After"]) >= 1
    w.redis.now += 1.0
    assert run(w.auth.admit(pair.access_token)).principal.session_id is not None


@pytest.mark.parametrize("token", [None, "", "garbage", "a.b.c"])
def test_missing_or_malformed_tokens_are_401(token: str | None) -> None:
    w = world()
    err = raises(Unauthenticated, lambda: w.auth.admit(token))
    assert isinstance(err, Unauthenticated) and err.token_given == bool(token)


# ---------------------------------------------------------------------------------------------- refresh, logout (#13)


def test_refresh_rotates_and_reuse_revokes_the_session_and_announces_it() -> None:
    """Issue 9 #13: logout and refresh reuse now publish on stride:revocations (nothing did before)."""
    w = world()
    user_id = signup(w)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    rotated = run(w.auth.refresh(pair.refresh_token))
    sid = run(w.auth.admit(rotated.access_token)).principal.session_id
    err = raises(Unauthenticated, lambda: w.auth.refresh(pair.refresh_token))
    assert "reused" in err.message
    assert w.redis.published == [{"user_id": str(user_id), "session_id": str(sid), "reason": "refresh_reuse"}]
    raises(Unauthenticated, lambda: w.auth.admit(rotated.access_token))
    raises(Unauthenticated, lambda: w.auth.refresh(rotated.refresh_token))
    assert w.db.tables["auth_sessions"][sid]["revoke_reason"] == "refresh_reuse"


def test_a_rate_limited_refresh_rolls_back_and_leaves_the_token_valid() -> None:
    w = world(RateLimits(api=Rate(1, 0.001)))
    signup(w)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    run(w.auth.admit(pair.access_token))  # the only API token
    raises(RateLimited, lambda: w.auth.refresh(pair.refresh_token))
    assert all(t["used_at"] is None for t in w.db.tables["refresh_tokens"].values())
    assert len(w.db.tables["refresh_tokens"]) == 1
    w.redis.now += 1000
    run(w.auth.refresh(pair.refresh_token))


def test_logout_revokes_at_once_and_announces_the_session() -> None:
    w = world()
    user_id = signup(w)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    principal = run(w.auth.authenticate(pair.access_token))
    run(w.auth.logout(principal))
    assert w.redis.published == [{"user_id": str(user_id), "session_id": str(principal.session_id), "reason": "logout"}]
    raises(Unauthenticated, lambda: w.auth.admit(pair.access_token))
    raises(Unauthenticated, lambda: w.auth.refresh(pair.refresh_token))
    assert not run(w.auth.still_valid(principal))
    raises(Malformed, lambda: w.auth.logout(Principal(principal.user_id, None, uuid.uuid4())))


def test_a_logout_while_redis_is_down_reaches_other_replicas_within_the_local_ttl() -> None:
    w = world()
    signup(w)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    principal = run(w.auth.authenticate(pair.access_token))
    other = world()  # another replica: same database and Redis, its own local cache
    other_guard = SessionGuard(
        w.auth.guard.uow,
        w.redis,
        w.redis,
        Limiter(w.redis),
        LocalSessionCache(2.0, clock=w.clock),
        active_ttl_s=60,
        revoked_ttl_s=960,
    )
    other.auth.guard, other.auth.tokens = other_guard, w.auth.tokens
    w.redis.down = True
    run(other.auth.admit(pair.access_token))  # remembered as active on the other replica
    run(w.auth.logout(principal))  # Postgres has it; Redis cannot be told
    run(other.auth.admit(pair.access_token))  # within the bound: still accepted there
    w.clock.now += 2.1
    raises(Unauthenticated, lambda: other.auth.admit(pair.access_token))


# ---------------------------------------------------------------------------------------------- devices, profile


def test_device_tokens_authenticate_uploads_only_and_die_when_unlinked() -> None:
    w = world()
    user_id = signup(w)
    assert user_id is not None
    row, token = run(w.accounts.link_device(user_id, "garmin", "fenix", "Fenix"))
    assert token.startswith("sdt_") and "token_hash" not in row
    principal = run(w.auth.authenticate(token, allow_device=True))
    assert (principal.user_id, principal.device_id, principal.session_id) == (user_id, row["device_id"], None)
    raises(Unauthenticated, lambda: w.auth.authenticate(token))
    run(w.accounts.unlink_device(user_id, row["device_id"]))
    raises(Unauthenticated, lambda: w.auth.authenticate(token, allow_device=True))
    raises(NotFound, lambda: w.accounts.device(user_id, row["device_id"]))
    raises(NotFound, lambda: w.accounts.unlink_device(uuid.uuid4(), row["device_id"]))


def test_profile_update_checks_heart_rates_against_stored_values_and_rolls_back() -> None:
    w = world()
    user_id = signup(w, max_hr=170)
    assert user_id is not None
    before = run(w.accounts.profile(user_id))
    err = raises(Invalid, lambda: w.accounts.update_profile(user_id, {"resting_hr": 170, "name": "X"}, {}))
    assert err.details[0]["field"] == "resting_hr"
    assert run(w.accounts.profile(user_id)) == before and w.db.outbox == []
    run(w.accounts.update_profile(user_id, {"name": "Ann B"}, {"units": "imperial"}))
    assert w.db.outbox == []  # the stats do not read names
    updated = run(w.accounts.update_profile(user_id, {"timezone": "Europe/Paris"}, {}))
    assert updated["preferences"]["units"] == "imperial" and updated["timezone"] == "Europe/Paris"
    assert [e.event_type for e in w.db.outbox] == ["user_updated"]


# ---------------------------------------------------------------------------------------------- erasure (#15)


def _populate(w: World, user_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    saved, live = uuid.uuid4(), uuid.uuid4()
    t = w.db.tables
    t["activities"][saved] = {"activity_id": saved, "user_id": user_id, "status": "saved", "sample_buckets": [0, 1]}
    t["activities"][live] = {"activity_id": live, "user_id": user_id, "status": "live", "sample_buckets": [0]}
    t["live_sessions"][live] = {"activity_id": live, "user_id": user_id}
    w.workouts.sessions[live] = user_id
    for activity_id in (saved, live):
        w.samples.rows[activity_id] = {0: {1: object()}}  # type: ignore[dict-item]
    run(w.accounts.update_profile(user_id, {"max_hr": 190}, {}))  # an outbox event about the user
    return saved, live


def test_erasure_reaches_every_store_and_actor_in_order() -> None:
    """Issue 9 #15: the old erasure left live workouts' samples, the shard's session and the user's outbox rows.
    Now: the shards end the user first (while the user still exists), every activity's samples (live ones too)
    are purged, the user's outbox rows go (the user_deleted announcement stays), Redis keys under u:{id}: and the
    login bucket go, and account_deleted is published for the socket hubs."""
    w = world()
    user_id = signup(w)
    bystander = signup(w, "bob@example.com")
    assert user_id is not None and bystander is not None
    saved, live = _populate(w, user_id)
    pair = run(w.auth.login("ann@example.com", PASSWORD, "198.51.100.1"))
    run(w.auth.admit(pair.access_token))
    run(w.auth.login("bob@example.com", PASSWORD, "198.51.100.2"))
    assert any(k.startswith(f"u:{user_id}:") for k in w.redis.keys)

    run(w.erasure.erase(user_id))

    assert w.workouts.ended == [(user_id, True)] and live not in w.workouts.sessions
    assert user_id not in w.db.tables["users"] and bystander in w.db.tables["users"]
    assert [a for a in w.db.tables["activities"].values() if a["user_id"] == user_id] == []
    assert w.db.tables["live_sessions"] == {} and w.db.tables["sample_purges"] == {}
    assert saved not in w.samples.rows and live not in w.samples.rows
    assert [(e.event_type, e.user_id) for e in w.db.outbox] == [("user_deleted", user_id)]
    assert [k for k in w.redis.keys if k.startswith(f"u:{user_id}:")] == []
    assert login_account_key("ann@example.com") not in w.redis.keys
    assert login_account_key("bob@example.com") in w.redis.keys
    assert w.redis.published[-1] == {"user_id": str(user_id), "session_id": None, "reason": "account_deleted"}
    keys_after = dict(w.redis.keys)
    raises(Unauthenticated, lambda: w.auth.admit(pair.access_token))
    assert w.redis.keys == keys_after  # a dead token leaves nothing behind
    raises(NotFound, lambda: w.erasure.erase(user_id))


def test_erasure_with_a_shard_unreachable_changes_nothing() -> None:
    w = world()
    user_id = signup(w)
    assert user_id is not None
    _populate(w, user_id)
    w.workouts.down = True
    raises(Unavailable, lambda: w.erasure.erase(user_id))
    assert user_id in w.db.tables["users"] and w.redis.published == []


def test_erasure_rolled_back_keeps_everything_and_announces_nothing() -> None:
    w = world()
    user_id = signup(w)
    assert user_id is not None
    saved, _ = _populate(w, user_id)
    w.db.fail_next_commit = Unavailable("postgres", "connection lost")
    raises(Unavailable, lambda: w.erasure.erase(user_id))
    assert user_id in w.db.tables["users"] and saved in w.db.tables["activities"]
    assert [e.event_type for e in w.db.outbox] == ["user_updated"] and w.redis.published == []
    assert saved in w.samples.rows
    run(w.erasure.erase(user_id))  # the retry completes
    assert user_id not in w.db.tables["users"] and saved not in w.samples.rows


def test_erasure_with_cassandra_and_redis_down_leaves_the_purges_queued() -> None:
    w = world()
    user_id = signup(w)
    assert user_id is not None
    saved, live = _populate(w, user_id)
    w.samples.down, w.redis.down = True, True
    run(w.erasure.erase(user_id))
    assert user_id not in w.db.tables["users"]
    assert set(w.db.tables["sample_purges"]) == {saved, live}  # the janitor drains them
    w.samples.down = False
    run(FakePurges(w.db, w.samples).run_pending())
    assert saved not in w.samples.rows and live not in w.samples.rows


def test_api_bucket_is_under_the_users_prefix() -> None:
    uid = uuid.uuid4()
    assert api_bucket(LIMITS, uid).key.startswith(f"u:{uid}:")
    assert "example" not in login_account_key("Someone@Example.com")
