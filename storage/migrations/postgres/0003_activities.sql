CREATE TABLE IF NOT EXISTS activities (
    activity_id      uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id        text,
    request_hash     text,
    status           text NOT NULL DEFAULT 'saved',
    type             text NOT NULL,
    name             text,
    notes            text,
    visibility       text NOT NULL DEFAULT 'private',
    start_time       timestamptz NOT NULL,
    duration         double precision,
    moving_time      double precision,
    distance         double precision,
    elevation_gain   double precision,
    elevation_loss   double precision,
    calories         double precision,
    average_speed    double precision,
    max_speed        double precision,
    average_pace     double precision,
    heart_rate_avg   double precision,
    heart_rate_max   double precision,
    cadence_avg      double precision,
    power_avg        double precision,
    power_max        double precision,
    route_polyline   text,
    summary_polyline text,
    bbox             double precision[],
    points_count     int NOT NULL DEFAULT 0,
    sample_buckets   int[] NOT NULL DEFAULT '{}',
    laps             jsonb NOT NULL DEFAULT '[]'::jsonb,
    splits           jsonb NOT NULL DEFAULT '[]'::jsonb,
    best_efforts     jsonb NOT NULL DEFAULT '[]'::jsonb,
    hr_zones         jsonb NOT NULL DEFAULT '[]'::jsonb,
    strength         jsonb,
    version          int NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT activities_client_unique UNIQUE (user_id, client_id)
);
CREATE INDEX IF NOT EXISTS activities_user_start ON activities (user_id, start_time DESC, activity_id DESC);

CREATE TABLE IF NOT EXISTS strength_sets (
    activity_id uuid NOT NULL REFERENCES activities (activity_id) ON DELETE CASCADE,
    idx         int NOT NULL,
    exercise    text NOT NULL,
    reps        int NOT NULL,
    weight_kg   double precision NOT NULL,
    rpe         double precision,
    rest_s      double precision,
    PRIMARY KEY (activity_id, idx)
);

-- Sample partitions to purge from Cassandra (activity deleted, or account erased); retried until done.
CREATE TABLE IF NOT EXISTS sample_purges (
    activity_id  uuid PRIMARY KEY,
    buckets      int[] NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    attempts     int NOT NULL DEFAULT 0
);
