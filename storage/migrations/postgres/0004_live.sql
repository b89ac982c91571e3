-- A live workout: its activities row has status 'live' until it is finished; this holds what only a live one has.
CREATE TABLE IF NOT EXISTS live_sessions (
    activity_id  uuid PRIMARY KEY REFERENCES activities (activity_id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    pauses       jsonb NOT NULL DEFAULT '[]'::jsonb,   -- [{"type": "pause"|"resume", "t": seconds from start}]
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS live_sessions_seen ON live_sessions (last_seen_at);

-- Read-only share links (LiveTrack): a token per link, stored hashed; dead once revoked or the workout ends.
CREATE TABLE IF NOT EXISTS live_shares (
    share_id    uuid PRIMARY KEY,
    activity_id uuid NOT NULL REFERENCES activities (activity_id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX IF NOT EXISTS live_shares_activity ON live_shares (activity_id);
