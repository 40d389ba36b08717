// One warmup run while it is in progress: its identity, groups, counters, errors and listeners,
// and the state of its expiries (a clearing run). WarmupRunner (runner.ts) creates and drives it.
import type { WarmupKeyResult } from './run-keys.ts'
import type { WarmupKeyError, WarmupKeyTiming, WarmupListener, WarmupProgress, WarmupSummary } from './summary.ts'

export interface RunningWarmup {
  readonly runId: string
  readonly trigger: string
  readonly groups: string[]
  readonly instance: string
  readonly startedAt: string
  /** Settles with the summary; never rejects. */
  readonly done: Promise<WarmupSummary>
  progress(): WarmupProgress
  /** Adds a listener for the rest of the run (a CLI that joined a running run); returns an unsubscribe. */
  listen(listener: WarmupListener): () => void
}

export class ActiveRun implements RunningWarmup {
  // Not readonly: a follow-up run (see WarmupRunner.start) takes more groups and gets its real
  // start time while it waits for the run before it.
  startedAt: string
  readonly listeners = new Set<WarmupListener>()
  readonly counts: WarmupProgress = { keys: 0, completed: 0, warmed: 0, failed: 0 }
  readonly errors: WarmupKeyError[] = []
  readonly timings: WarmupKeyTiming[] = []
  readonly keyResults: WarmupKeyResult[] = []
  aborted = false
  clearFirst = false
  /**
   * The run's expiries, in order. A clearing request that joins a run whose expiry has begun adds
   * one more (the data may have changed since), so the run never answers for a change it missed.
   */
  clearing: Promise<void> | undefined
  clearQueued = false
  done!: Promise<WarmupSummary>

  constructor(readonly runId: string, readonly trigger: string, readonly groups: string[], readonly instance: string, public startedMs: number) {
    this.startedAt = new Date(startedMs).toISOString()
  }

  markStarted(now: number): void {
    this.startedMs = now
    this.startedAt = new Date(now).toISOString()
  }

  progress(): WarmupProgress {
    return { ...this.counts }
  }

  listen(listener: WarmupListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

