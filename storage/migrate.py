"""Versioned schema migrations: SQL files for Postgres, CQL for Cassandra, each recorded in a schema_version table.

Run as `python -m storage.migrate [--database NAME] [--keyspace NAME]`; a second run applies nothing.
A Postgres migration is a `.sql` file, or a `.py` file with `migrate(conn)` (a psycopg connection inside the
migration's transaction) where a data change needs Python (e.g. 0007 backfills a column computed by domain code).

Migrations connect as the schema owners (STRIDE_PG_MIGRATION_USER/_PASSWORD, STRIDE_CASSANDRA_MIGRATION_USERNAME/
_PASSWORD), never as the app, and grant the app's roles (STRIDE_PG_USER, STRIDE_CASSANDRA_USERNAME) data access only:
Postgres SELECT/INSERT/UPDATE/DELETE on the tables and USAGE on the sequences (also by default for every table a later
migration creates), Cassandra SELECT and MODIFY on the keyspace. The app can change rows, never the schema.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import secrets
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from config.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[\w-]+\.(sql|cql|py)$")


def migration_files(kind: str) -> list[tuple[int, Path]]:
    """(version, path) of every migration of a kind ('postgres' or 'cassandra'), in order."""
    found = []
    for path in sorted((MIGRATIONS / kind).iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def apply_postgres_migration(conn: psycopg.Connection, path: Path) -> None:
    """Run one Postgres migration on `conn` (the caller holds the transaction): SQL text, or `migrate(conn)`."""
    if path.suffix == ".py":
        spec = importlib.util.spec_from_file_location(f"stride_migration_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(conn)
    else:
        conn.execute(path.read_text())


def grant_postgres_app_role(conn: psycopg.Connection, settings: Settings) -> None:
    """The app role may read and write rows of the owner's tables (now and in later migrations), nothing else."""
    app, owner = settings.pg_user, settings.pg_migration_user
    if not app or app == owner:
        return
    role = sql.Identifier(app)
    database = conn.info.dbname
    for stmt in (
        "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}",
        "GRANT USAGE ON SCHEMA public TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "REVOKE ALL ON TABLE schema_version FROM {role}",
    ):
        conn.execute(sql.SQL(stmt).format(db=sql.Identifier(database), role=role))


def migrate_postgres(settings: Settings, database: str | None = None) -> list[str]:
    """Apply pending Postgres migrations as the schema owner, under an advisory lock; returns the names applied."""
    applied: list[str] = []
    with psycopg.connect(settings.pg_dsn(database, owner=True), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(727001)")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version int PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
            for version, path in migration_files("postgres"):
                if version in done:
                    continue
                with conn.transaction():
                    apply_postgres_migration(conn, path)
                    conn.execute("INSERT INTO schema_version (version, name) VALUES (%s, %s)", (version, path.name))
                applied.append(path.name)
            grant_postgres_app_role(conn, settings)
        finally:
            conn.execute("SELECT pg_advisory_unlock(727001)")
    return applied


def _cql_statements(text: str) -> list[str]:
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def replication_clause(settings: Settings) -> str:
    """SimpleStrategy for one node; NetworkTopologyStrategy in the local DC once RF > 1."""
    rf = settings.cassandra_replication_factor
    if rf <= 1:
        return "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    return f"{{'class': 'NetworkTopologyStrategy', '{settings.cassandra_local_dc}': {rf}}}"


def migrate_cassandra(settings: Settings, keyspace: str | None = None) -> list[str]:
    """Create the keyspace and apply pending CQL migrations; returns the names applied."""
    from storage.cassandra import build_cluster

    ks = keyspace or settings.cassandra_keyspace
    cluster = build_cluster(settings.model_copy(update={"cassandra_request_timeout_s": 60.0}), owner=True)
    try:
        session = cluster.connect()
        session.execute(f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {replication_clause(settings)}")
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {ks}.schema_version (version int PRIMARY KEY, name text, applied_at timestamp)"
        )
        done = {row.version for row in session.execute(f"SELECT version FROM {ks}.schema_version")}
        applied = []
        for version, path in migration_files("cassandra"):
            if version in done:
                continue
            for stmt in _cql_statements(path.read_text().format(keyspace=ks)):
                session.execute(stmt)
            session.execute(
                f"INSERT INTO {ks}.schema_version (version, name, applied_at) VALUES (%s, %s, toTimestamp(now()))",
                (version, path.name),
            )
            applied.append(path.name)
        app = settings.cassandra_username
        if app and app != settings.cassandra_migration_username:
            if not re.fullmatch(r"\w+", app):
                raise ValueError(f"STRIDE_CASSANDRA_USERNAME must be letters, digits and '_' (got {app!r})")
            # the owner created the keyspace (or was granted it), so it may grant: rows only, never the schema
            for permission in ("SELECT", "MODIFY"):
                session.execute(f'GRANT {permission} ON KEYSPACE {ks} TO "{app}"')
        return applied
    finally:
        cluster.shutdown()


def truncate_samples(settings: Settings, keyspace: str) -> None:
    """Empty a keyspace's samples table, as the schema owner (benchmarks on a scratch node start from nothing)."""
    from storage.cassandra import build_cluster

    cluster = build_cluster(settings.model_copy(update={"cassandra_request_timeout_s": 60.0}), owner=True)
    try:
        cluster.connect().execute(f"TRUNCATE {keyspace}.samples", timeout=60)
    finally:
        cluster.shutdown()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point used by `make up` and the test set-up."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default=None, help="Postgres database (default: settings)")
    parser.add_argument("--keyspace", default=None, help="Cassandra keyspace (default: settings)")
    parser.add_argument("--only", choices=["postgres", "cassandra"], default=None)
    args = parser.parse_args(argv)
    # migrations never sign tokens: a throwaway JWT secret keeps the migration job free of the app's secret
    settings = Settings(jwt_secret=secrets.token_hex(32))
    started = time.monotonic()
    if args.only in (None, "postgres"):
        names = migrate_postgres(settings, args.database)
        print(f"postgres {args.database or settings.pg_database}: applied {names or 'nothing'}")
    if args.only in (None, "cassandra"):
        names = migrate_cassandra(settings, args.keyspace)
        print(f"cassandra {args.keyspace or settings.cassandra_keyspace}: applied {names or 'nothing'}")
    print(f"migrations done in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
