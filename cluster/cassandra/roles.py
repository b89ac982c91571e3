"""Cassandra roles for the local node (run by cluster/cassandra.sh after CQL answers; idempotent).

    python cluster/cassandra/roles.py probe   prints "auth" (CQL answers and requires a login), "open" (CQL answers
                                              without a login: an old config) or fails (exit 1)
    python cluster/cassandra/roles.py setup   the role set-up below

Roles (passwords from the environment, which cassandra.sh fills from $STATE_DIR/secrets):
    stride_admin  (CASS_ADMIN_PASSWORD)   superuser, used by this script only
    cassandra     the built-in superuser: its public password replaced by a random one never stored, no login,
                  no superuser
    OWNER         (CASS_OWNER_PASSWORD)   CREATE on all keyspaces (a keyspace it creates is its own) and ALL on
                  the keyspaces that exist already; storage/migrate.py logs in as it
    APP           (CASS_APP_PASSWORD)     login only; storage/migrate.py grants it SELECT and MODIFY on the keyspace
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
import time
import warnings

from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.policies import RoundRobinPolicy

logging.getLogger("cassandra").setLevel(logging.CRITICAL)
warnings.filterwarnings("ignore", category=DeprecationWarning)  # the driver's legacy-parameter notice
HOST, PORT = os.environ.get("CQL_HOST", "127.0.0.1"), int(os.environ["CQL_PORT"])
ADMIN = "stride_admin"


def connect(username: str | None = None, password: str | None = None) -> tuple[Cluster, Session]:
    auth = PlainTextAuthProvider(username=username, password=password) if username else None
    cluster = Cluster(
        [HOST],
        port=PORT,
        auth_provider=auth,
        load_balancing_policy=RoundRobinPolicy(),
        connect_timeout=5,
        control_connection_timeout=5,
        protocol_version=5,
    )
    try:
        return cluster, cluster.connect()
    except Exception:
        cluster.shutdown()
        raise


def auth_failed(exc: Exception) -> bool:
    errors = getattr(exc, "errors", {}) or {}
    return isinstance(exc, AuthenticationFailed) or (
        isinstance(exc, NoHostAvailable)
        and bool(errors)
        and all(isinstance(e, AuthenticationFailed) for e in errors.values())
    )


def probe() -> int:
    try:
        cluster, session = connect()
    except Exception as exc:  # noqa: BLE001 - any failure other than "log in first" means not ready
        if auth_failed(exc):
            print("auth")
            return 0
        print(f"not answering: {type(exc).__name__}", file=sys.stderr)
        return 1
    try:
        session.execute("SELECT release_version FROM system.local", timeout=10)
        print("open")
        return 0
    finally:
        cluster.shutdown()


def role_name(env: str, default: str) -> str:
    name = os.environ.get(env) or default
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise SystemExit(f"Cassandra role name {name!r} ({env}) must match [a-z_][a-z0-9_]*")
    return name


def admin_session(admin_password: str) -> tuple[Cluster, Session]:
    """Log in as stride_admin; on a node without it yet, create it through the built-in cassandra/cassandra."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return connect(ADMIN, admin_password)
        except Exception as exc:
            if not auth_failed(exc):
                raise
        try:
            cluster, session = connect("cassandra", "cassandra")
        except Exception as exc:
            if not auth_failed(exc):
                raise
            # a fresh node creates its default superuser a moment after CQL opens; after that, neither login
            # working means the roles on disk were made with other secrets
            if time.monotonic() > deadline:
                raise SystemExit(
                    "Cassandra: neither stride_admin (password in $STATE_DIR/secrets/cassandra-admin-password) nor "
                    "the default superuser can log in: the node's roles were set up with other secrets. Restore the "
                    "secrets, or `cluster/cassandra.sh wipe` (deletes all Cassandra data)"
                ) from None
            time.sleep(1)
            continue
        try:
            ensure_role(session, ADMIN, admin_password, superuser=True)
        finally:
            cluster.shutdown()
        time.sleep(2.5)  # role/credential caches (roles_validity, credentials_validity: 2 s)


def can_login(role: str, password: str) -> bool:
    try:
        cluster, _ = connect(role, password)
    except Exception as exc:
        if auth_failed(exc):
            return False
        raise
    cluster.shutdown()
    return True


def ensure_role(session: Session, role: str, password: str, *, superuser: bool) -> None:
    """The role exists, may log in, has exactly this superuser status and this password (changed only if it
    differs: Cassandra refuses two password changes of one role within 5 s)."""
    row = session.execute("SELECT can_login, is_superuser FROM system_auth.roles WHERE role = %s", (role,)).one()
    flag = "true" if superuser else "false"
    if row is None:
        session.execute(f"CREATE ROLE {role} WITH LOGIN = true AND SUPERUSER = {flag} AND PASSWORD = %s", (password,))
        return
    if not row.can_login or bool(row.is_superuser) != superuser:
        session.execute(f"ALTER ROLE {role} WITH LOGIN = true AND SUPERUSER = {flag}")
    if not can_login(role, password):
        session.execute(f"ALTER ROLE {role} WITH PASSWORD = %s", (password,))


def setup() -> int:
    admin_pw, owner_pw, app_pw = (
        os.environ[k] for k in ("CASS_ADMIN_PASSWORD", "CASS_OWNER_PASSWORD", "CASS_APP_PASSWORD")
    )
    owner = role_name("STRIDE_CASSANDRA_MIGRATION_USERNAME", "stride_owner")
    app = role_name("STRIDE_CASSANDRA_USERNAME", "stride_app")
    if len({ADMIN, owner, app, "cassandra"}) != 4:
        raise SystemExit("Cassandra: the owner, app and admin roles must be distinct and not 'cassandra'")
    cluster, session = admin_session(admin_pw)
    try:
        default = session.execute(
            "SELECT can_login, is_superuser FROM system_auth.roles WHERE role = 'cassandra'"
        ).one()
        if default is not None and (default.can_login or default.is_superuser):
            session.execute(
                "ALTER ROLE cassandra WITH PASSWORD = %s AND SUPERUSER = false AND LOGIN = false",
                (secrets.token_hex(32),),
            )
        for role, password in ((owner, owner_pw), (app, app_pw)):
            ensure_role(session, role, password, superuser=False)
        session.execute(f"GRANT CREATE ON ALL KEYSPACES TO {owner}")
        user_keyspaces = [
            row.keyspace_name
            for row in session.execute("SELECT keyspace_name FROM system_schema.keyspaces")
            if not row.keyspace_name.startswith("system")
        ]
        for ks in user_keyspaces:  # made before authentication was on (or by another owner): the owner's now
            session.execute(f'GRANT ALL PERMISSIONS ON KEYSPACE "{ks}" TO {owner}')
        print(
            f"roles ok: {ADMIN} (superuser), {owner} (owner of {len(user_keyspaces)} keyspaces), {app} (app); "
            "cassandra: no login"
        )
        return 0
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit({"probe": probe, "setup": setup}[sys.argv[1]]())
