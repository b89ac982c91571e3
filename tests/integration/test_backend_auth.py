"""The local services let in only who they should, as little as they need (issue 9, item 3).

Against the services cluster/test.sh started: Postgres (app role without SUPERUSER, only DML, password-only TCP),
Redis (no anonymous access, no admin commands), Cassandra (no anonymous or default-superuser login, the app role
cannot change the schema), and the secrets folder they get their passwords from.
"""

from __future__ import annotations

import stat
import uuid
import warnings
from pathlib import Path

import psycopg
import pytest
import redis
import redis.backoff
import redis.retry
from cassandra import Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable
from psycopg import sql
from pydantic import SecretStr

from config.settings import Settings
from storage.cassandra import build_cluster
from storage.redis_store import build_sync_redis
from tests.conftest import RAY_TOKEN_PATH, ROOT

SECRETS = RAY_TOKEN_PATH.parent
SECRET_NAMES = (
    "ray-token",
    "jwt-secret",
    "pg-app-password",
    "pg-owner-password",
    "redis-password",
    "cassandra-app-password",
    "cassandra-owner-password",
    "cassandra-admin-password",
)
warnings.filterwarnings("ignore", category=DeprecationWarning, module="cassandra")


def test_secrets_are_generated_private_random_and_distinct() -> None:
    assert stat.S_IMODE(SECRETS.stat().st_mode) == 0o700
    values = []
    for name in SECRET_NAMES:
        path = SECRETS / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        value = path.read_text()
        assert len(value) == 64 and int(value, 16) >= 0, name  # 256 random bits, hex
        values.append(value)
    assert len(set(values)) == len(values)


def test_env_sh_never_overwrites_an_existing_secret(tmp_path: Path) -> None:
    import subprocess

    state = tmp_path / "state"
    run = lambda: subprocess.run(  # noqa: E731
        ["bash", "-c", 'source "$0/cluster/env.sh" && echo "$STRIDE_PG_PASSWORD"', str(ROOT)],
        env={"PATH": "/usr/bin:/bin", "STRIDE_STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        check=True,
    )
    first = run().stdout.strip()
    assert len(first) == 64 and (state / "secrets" / "pg-app-password").read_text() == first
    assert run().stdout.strip() == first


# --------------------------------------------------------------------------------------------- Postgres


def test_postgres_app_role_is_not_superuser_and_only_changes_rows(settings: Settings) -> None:
    with psycopg.connect(settings.pg_dsn(), autocommit=True) as conn:
        role = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert role == (False, False, False, False)
        assert conn.execute("SELECT current_user").fetchone() == (settings.pg_user,)
        conn.execute("SELECT count(*) FROM users")  # reads and writes rows of the app's tables
        for ddl in (
            "CREATE TABLE app_may_not (id int)",
            "DROP TABLE users",
            "ALTER TABLE users ADD COLUMN x int",
            "TRUNCATE outbox",
            "CREATE ROLE intruder",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(ddl)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM schema_version")


def test_tables_of_later_migrations_are_granted_to_the_app_by_default(
    settings: Settings, owner_settings: Settings
) -> None:
    table = sql.Identifier(f"later_migration_{uuid.uuid4().hex[:8]}")
    with psycopg.connect(owner_settings.pg_dsn(owner=True), autocommit=True) as owner:
        owner.execute(sql.SQL("CREATE TABLE {} (id bigserial PRIMARY KEY, v text)").format(table))
    try:
        with psycopg.connect(settings.pg_dsn(), autocommit=True) as app:
            app.execute(sql.SQL("INSERT INTO {} (v) VALUES ('x')").format(table))  # table and its sequence
            assert app.execute(sql.SQL("SELECT v FROM {}").format(table)).fetchall() == [("x",)]
            app.execute(sql.SQL("DELETE FROM {}").format(table))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(sql.SQL("DROP TABLE {}").format(table))
    finally:
        with psycopg.connect(owner_settings.pg_dsn(owner=True), autocommit=True) as owner:
            owner.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))


def test_postgres_wants_a_password_over_tcp_for_every_role(settings: Settings) -> None:
    for user, password in (
        (settings.pg_user, None),
        (settings.pg_user, "wrong"),
        ("stride", "stride"),
        ("postgres", None),
        ("postgres", "postgres"),
    ):
        dsn = settings.model_copy(update={"pg_user": user, "pg_password": SecretStr(password or "")}).pg_dsn()
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(dsn).close()
    hba = (SECRETS.parent / "postgres" / "data" / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert rules and not any("trust" in rule for rule in rules)
    assert all(rule[-1] == "scram-sha-256" for rule in rules if rule[0] == "host")
    assert [rule for rule in rules if rule[0] == "local"] == [["local", "all", "postgres", "peer"]]


# --------------------------------------------------------------------------------------------- Redis


def test_redis_refuses_anonymous_clients_and_admin_commands(settings: Settings) -> None:
    anonymous = redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        socket_timeout=2,
        retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0),
    )
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.ping()
    wrong = build_sync_redis(settings.model_copy(update={"redis_password": SecretStr("wrong")}))
    with pytest.raises(redis.exceptions.AuthenticationError):
        wrong.ping()
    app = build_sync_redis(settings)
    assert app.ping() is True
    for command in (
        ("CONFIG", "GET", "dir"),
        ("CONFIG", "SET", "dir", "/tmp"),
        ("ACL", "SETUSER", "intruder", "on", ">pw", "+@all"),
        ("SHUTDOWN",),
        ("MONITOR",),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            app.execute_command(*command)


# --------------------------------------------------------------------------------------------- Cassandra


def _try_login(settings: Settings, auth: PlainTextAuthProvider | None) -> None:
    cluster = Cluster(
        settings.cassandra_contact_points(),
        port=settings.cassandra_port,
        auth_provider=auth,
        protocol_version=5,
        connect_timeout=5,
    )
    try:
        cluster.connect()
    finally:
        cluster.shutdown()


def test_cassandra_refuses_anonymous_and_default_superuser_logins(settings: Settings) -> None:
    for auth in (
        None,
        PlainTextAuthProvider("cassandra", "cassandra"),
        PlainTextAuthProvider(settings.cassandra_username, "wrong"),
    ):
        with pytest.raises(NoHostAvailable, match=r"(?i)authenticat"):
            _try_login(settings, auth)


def test_cassandra_app_role_reads_and_writes_rows_but_not_the_schema(settings: Settings) -> None:
    cluster = build_cluster(settings)
    try:
        session = cluster.connect()
        ks = settings.cassandra_keyspace
        session.execute(f"SELECT * FROM {ks}.samples LIMIT 1")
        for stmt in (
            f"CREATE TABLE {ks}.app_may_not (id int PRIMARY KEY)",
            f"DROP TABLE {ks}.samples",
            "CREATE KEYSPACE app_may_not WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE ROLE intruder WITH LOGIN = true AND PASSWORD = 'x'",
            "SELECT * FROM system_auth.roles",
        ):
            with pytest.raises(Unauthorized):
                session.execute(stmt)
    finally:
        cluster.shutdown()
