-- Per-consumer delivery state for the outbox (storage/outbox.py, domain/events.py): one pending row per consumer
-- subscribed to an event, written in the event's transaction and deleted once delivered; failures back off and,
-- after the attempts cap, move to the dead letters. Replaces the single `dispatched_at` flag, which left events no
-- consumer takes undispatched forever (a growing tail every poll walked past) and retried a poison event forever.
CREATE TABLE IF NOT EXISTS outbox_deliveries (
    seq             bigint NOT NULL REFERENCES outbox (seq) ON DELETE CASCADE,
    consumer        text NOT NULL,
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    PRIMARY KEY (seq, consumer)
);
CREATE INDEX IF NOT EXISTS outbox_deliveries_due ON outbox_deliveries (consumer, next_attempt_at, seq);

CREATE TABLE IF NOT EXISTS outbox_dead_letters (
    seq        bigint NOT NULL REFERENCES outbox (seq) ON DELETE CASCADE,
    consumer   text NOT NULL,
    attempts   int NOT NULL,
    last_error text,
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (seq, consumer)
);

-- events still undispatched under the old scheme become pending deliveries of the stats consumer (the only
-- consumer so far; its event types as in domain.events.SUBSCRIPTIONS at this migration)
INSERT INTO outbox_deliveries (seq, consumer)
SELECT seq, 'stats' FROM outbox
WHERE dispatched_at IS NULL
  AND event_type IN ('activity_created', 'activity_updated', 'activity_deleted', 'user_updated', 'user_deleted')
ON CONFLICT DO NOTHING;

DROP INDEX IF EXISTS outbox_pending;
ALTER TABLE outbox DROP COLUMN IF EXISTS dispatched_at, DROP COLUMN IF EXISTS attempts;

-- events carry no payload unless a consumer reads it (domain.events.CATALOGUE)
UPDATE outbox SET payload = '{}'::jsonb
WHERE event_type NOT IN ('personal_record', 'goal_achieved', 'streak') AND payload <> '{}'::jsonb;

-- goals: listed per user in creation order, counted against the per-user cap
DROP INDEX IF EXISTS goals_user;
CREATE INDEX IF NOT EXISTS goals_user_created ON goals (user_id, created_at, goal_id);
