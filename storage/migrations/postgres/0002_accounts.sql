CREATE TABLE IF NOT EXISTS users (
    user_id       uuid PRIMARY KEY,
    email         text NOT NULL,
    email_lower   text GENERATED ALWAYS AS (lower(email)) STORED,
    password_hash text NOT NULL,
    name          text NOT NULL,
    timezone      text NOT NULL DEFAULT 'UTC',
    birth_year    int,
    sex           text,
    weight_kg     double precision,
    max_hr        int,
    resting_hr    int,
    preferences   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS users_email_lower ON users (email_lower);

-- A login session: the family of rotated refresh tokens. Access tokens carry its id (sid).
CREATE TABLE IF NOT EXISTS auth_sessions (
    session_id  uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    revoke_reason text
);
CREATE INDEX IF NOT EXISTS auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash  bytea PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES auth_sessions (session_id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE IF NOT EXISTS devices (
    device_id   uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    kind        text NOT NULL,
    external_id text,
    name        text,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS devices_user ON devices (user_id);

-- Account erasure that must finish in the stores outside Postgres (Cassandra samples, Redis), retried until done.
CREATE TABLE IF NOT EXISTS erasures (
    user_id      uuid PRIMARY KEY,
    activity_ids uuid[] NOT NULL DEFAULT '{}',
    requested_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    attempts     int NOT NULL DEFAULT 0,
    last_error   text
);
