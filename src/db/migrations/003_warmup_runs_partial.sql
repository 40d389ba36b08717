-- Warmup history, second step (src/warmup):
-- * status 'partial': some keys warmed, some failed (a run that warmed nothing is 'failed');
-- * slowest: the slowest keys of a run, [{key, durationMs}];
-- * indexes for "last run of job X" and for marking an instance's leftover running rows.
ALTER TABLE warmup_runs DROP CONSTRAINT warmup_runs_status_check;
ALTER TABLE warmup_runs ADD CONSTRAINT warmup_runs_status_check
  CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted'));
ALTER TABLE warmup_runs ADD COLUMN slowest jsonb NOT NULL DEFAULT '[]'::jsonb;
CREATE INDEX warmup_runs_trigger_started ON warmup_runs (trigger, started_at DESC);
CREATE INDEX warmup_runs_running_instance ON warmup_runs (instance) WHERE status = 'running';
