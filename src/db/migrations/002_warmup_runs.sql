-- Warmup run history, written by src/warmup; survives restarts.
CREATE TABLE warmup_runs (
  id           text PRIMARY KEY,
  trigger      text NOT NULL,
  groups       text[] NOT NULL,
  status       text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  instance     text NOT NULL,
  started_at   timestamptz NOT NULL,
  finished_at  timestamptz,
  keys         integer NOT NULL DEFAULT 0,
  warmed       integer NOT NULL DEFAULT 0,
  failed       integer NOT NULL DEFAULT 0,
  duration_ms  integer,
  errors       jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX warmup_runs_started ON warmup_runs (started_at DESC);
