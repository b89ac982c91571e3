-- Goals (definitions); progress is derived by the user's stats actor.
CREATE TABLE IF NOT EXISTS goals (
    goal_id      uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    goal_type    text NOT NULL,
    target_value double precision NOT NULL,
    sport        text,
    start_date   date NOT NULL,
    end_date     date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS goals_user ON goals (user_id);

-- The stats actor's checkpoint of one user (facts, remembered event ids, announced goal periods).
CREATE TABLE IF NOT EXISTS user_stats (
    user_id    uuid PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    state      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Insights computed when an activity was applied to its owner's stats (shown on GET /activities/{id}).
CREATE TABLE IF NOT EXISTS activity_insights (
    activity_id uuid PRIMARY KEY REFERENCES activities (activity_id) ON DELETE CASCADE,
    insights    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
