-- Every key of a warmup run with its group, outcome and time, for `schools warmup --verbose`
-- in a process other than the one that ran it. One row per run; only the newest runs keep
-- theirs (see src/warmup/run-keys.ts).
CREATE TABLE warmup_run_keys (
  run_id text PRIMARY KEY,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  keys jsonb NOT NULL
);
CREATE INDEX warmup_run_keys_recorded ON warmup_run_keys (recorded_at DESC);
