-- Transactional outbox: every change that announces an event writes it here in the same transaction.
CREATE TABLE IF NOT EXISTS outbox (
    seq           bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    event_type    text NOT NULL,
    user_id       uuid,
    aggregate_id  uuid,
    payload       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz,
    attempts      int NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE dispatched_at IS NULL;
