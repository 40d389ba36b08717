// Shapes a warmup run reports: to its caller (summary), to listeners while it runs
// (plan, per-key progress) and to the run history (record).

/** How a finished run ended. 'partial': some keys warmed, some failed. */
export type WarmupStatus = 'succeeded' | 'partial' | 'failed' | 'interrupted'
export type WarmupRunStatus = 'running' | WarmupStatus

export interface WarmupKeyError {
  key: string
  message: string
  durationMs: number
}

export interface WarmupKeyTiming {
  key: string
  durationMs: number
}

export interface WarmupSummary {
  runId: string
  trigger: string
  /** The concrete groups warmed ('all' already expanded). */
  groups: string[]
  /** Which process ran it (see defaultInstanceId). */
  instance: string
  status: WarmupStatus
  /** Keys planned; a target whose key listing failed counts as one failed key. */
  keys: number
  warmed: number
  failed: number
  durationMs: number
  /** The first `maxRecordedErrors` failures; `failed` is always the exact count. */
  errors: WarmupKeyError[]
  /** The slowest keys, slowest first: where to look when a run gets slow. */
  slowest: WarmupKeyTiming[]
  startedAt: string
  finishedAt: string
}

/** A row of the run history: a summary, or a run still going (or cut off) without its end. */
export interface WarmupRunRecord extends Omit<WarmupSummary, 'status' | 'finishedAt' | 'durationMs'> {
  status: WarmupRunStatus
  finishedAt: string | null
  durationMs: number | null
}

export interface WarmupPlan {
  runId: string
  trigger: string
  groups: string[]
  /** Total keys the run will try, for a progress bar. */
  keys: number
  targets: { name: string; group: string; keys: number }[]
}

export interface WarmupKeyProgress {
  runId: string
  key: string
  target: string
  group: string
  ok: boolean
  durationMs: number
  error?: string
  /** Keys finished so far in this run, this one included. */
  completed: number
  total: number
}

export interface WarmupProgress {
  keys: number
  completed: number
  warmed: number
  failed: number
}

/** Callbacks for one run. Exceptions thrown here are logged and otherwise ignored. */
export interface WarmupListener {
  onPlan?(plan: WarmupPlan): void
  onKey?(progress: WarmupKeyProgress): void
}

export function finalStatus(counts: { warmed: number; failed: number; interrupted: boolean }): WarmupStatus {
  if (counts.interrupted) return 'interrupted'
  if (counts.failed === 0) return 'succeeded'
  return counts.warmed === 0 ? 'failed' : 'partial'
}
