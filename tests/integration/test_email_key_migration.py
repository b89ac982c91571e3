"""Migration 0007 (issue 9 #11) on a scratch schema of the test database: the email key is backfilled with the one
normalisation (domain.accounts.normalize_email), accounts that only Postgres lower() told apart keep their data
under a key no address normalises to, the key is unique, `email_lower` and the unused `erasures` table are gone."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from config.settings import Settings
from domain.accounts import normalize_email
from storage.migrate import MIGRATIONS, apply_postgres_migration

SCHEMA = f"acct_migration_{uuid.uuid4().hex[:8]}"


@pytest.fixture()
def scratch(owner_settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(owner_settings.pg_dsn(owner=True), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"SET search_path = {SCHEMA}")
        try:
            conn.execute((MIGRATIONS / "postgres" / "0002_accounts.sql").read_text())
            yield conn
        finally:
            conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def test_0007_backfills_one_key_keeps_colliding_accounts_and_drops_the_old_column(scratch: psycopg.Connection) -> None:
    # distinct under Postgres lower() (the old unique index), one address under NFKC + casefold
    emails = ["Ann@Example.com", "STRASSE@x.org", "straße@x.org", "İnci@x.org", "i̇nci@x.org", "ｆｕｌｌ@x.org"]
    ids = []
    for i, email in enumerate(emails):
        ids.append(uuid.uuid4())
        scratch.execute(
            "INSERT INTO users (user_id, email, password_hash, name, created_at)"
            " VALUES (%s, %s, 'h', 'n', now() + make_interval(secs => %s))",
            (ids[-1], email, i),
        )
    with scratch.transaction():
        apply_postgres_migration(scratch, Path(MIGRATIONS / "postgres" / "0007_accounts.py"))
    keys = dict(scratch.execute("SELECT user_id, email_key FROM users").fetchall())
    assert keys[ids[0]] == "ann@example.com" and keys[ids[5]] == "full@x.org"
    assert keys[ids[1]] == normalize_email("straße@x.org") == "strasse@x.org"  # the older one keeps the key
    assert keys[ids[3]] == normalize_email("i̇nci@x.org")
    for later in (ids[2], ids[4]):  # kept, never reachable by an address
        assert keys[later].startswith(" duplicate ") and normalize_email(keys[later]) != keys[later]
    with pytest.raises(psycopg.errors.UniqueViolation):
        scratch.execute(
            "INSERT INTO users (user_id, email, email_key, password_hash, name)"
            " VALUES (%s, 'ANN@example.com', 'ann@example.com', 'h', 'n')",
            (uuid.uuid4(),),
        )
    columns = {
        r[0]
        for r in scratch.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'users'",
            (SCHEMA,),
        ).fetchall()
    }
    assert "email_key" in columns and "email_lower" not in columns
    assert scratch.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.erasures",)).fetchone() == (None,)
