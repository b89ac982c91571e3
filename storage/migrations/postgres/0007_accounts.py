"""0007 accounts: one comparison form of an email, computed in Python and unique in Postgres; `erasures` dropped.

`users.email_key` = domain.accounts.normalize_email(email) (NFKC + full case folding) replaces the generated
`email_lower` column (Postgres `lower()`, which folds by the database's locale: `İ` became `i` there and `i̇` in
Python). Postgres never folds case again: registration and login compute the key in Python.

Backfill: accounts in creation order; when two existing accounts share a comparison form (they were distinct only
for `lower()`, e.g. `straße@` and `strasse@`), the oldest keeps it and each later one gets a key no address can
normalise to (it starts with a space, which normalize_email strips), so nothing is lost, the unique index holds,
and login by that address reaches the oldest account. The later accounts are printed for an operator to resolve
(their owners can be told to pick another address; their data is intact).

The `erasures` table (planned in 0002, never used: erasure runs inside one transaction and the sample purge queue
retries the Cassandra part) is dropped.
"""

from __future__ import annotations

from typing import Any

from domain.accounts import normalize_email


def migrate(conn: Any) -> None:
    """Run inside the migration's transaction (storage/migrate.py)."""
    conn.execute("DROP TABLE IF EXISTS erasures")
    conn.execute("ALTER TABLE users ADD COLUMN IF NOT EXISTS email_key text")
    rows = conn.execute("SELECT user_id, email FROM users ORDER BY created_at, user_id").fetchall()
    owners: dict[str, Any] = {}
    keys: list[tuple[str, Any]] = []
    for user_id, email in rows:
        key = normalize_email(email)
        if key in owners:
            print(
                f"0007: account {user_id} shares the email comparison form of {owners[key]} (older); it keeps its"
                " data but cannot log in by email until an operator resolves it"
            )
            key = f" duplicate {user_id} of {key}"
        else:
            owners[key] = user_id
        keys.append((key, user_id))
    with conn.cursor() as cur:
        cur.executemany("UPDATE users SET email_key = %s WHERE user_id = %s", keys)
    conn.execute("ALTER TABLE users ALTER COLUMN email_key SET NOT NULL")
    conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users (email_key)")
    conn.execute("DROP INDEX IF EXISTS users_email_lower")
    conn.execute("ALTER TABLE users DROP COLUMN IF EXISTS email_lower")
