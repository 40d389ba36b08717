// Per-group progress of warmup runs, for the operator dashboard's progress bars. The tracker is
// fed by the runner's listenAll() in the process that runs a warmup, and keeps the last few runs
// in memory (bounded whatever the number of runs). With a board (progress-board.ts: Redis) it
// also publishes each run's progress there, throttled and once more at the end, so any worker
// or instance answering the dashboard shows a run that another process runs (the cluster
// primary, or the instance whose BullMQ worker took the job).
import { errorMessage, type WarmupLogger } from './logger.ts'
import type { WarmupKeyProgress, WarmupListener, WarmupPlan, WarmupProgress, WarmupSummary } from './summary.ts'

export interface GroupProgress {
  group: string
  keys: number
  completed: number
  warmed: number
  failed: number
}

/** One run's progress: the run's totals and one entry per group. */
export interface RunProgress extends WarmupProgress {
  runId: string
  groups: GroupProgress[]
  /** When the running process last published it. */
  updatedAt: string
  /** The run has ended (the last publication of it). */
  finished: boolean
}

/** Where a run's progress is shared with the processes that do not run it. One small value per run, expiring. */
export interface RunProgressBoard {
  publish(progress: RunProgress): Promise<void>
  /** The progress of those of `runIds` that have one; never rejects (an unreachable board reads as empty). */
  read(runIds: readonly string[]): Promise<Map<string, RunProgress>>
  close(): Promise<void>
}

export interface RunProgressTrackerOptions {
  board?: RunProgressBoard | undefined
  /** Least time between two publications of a run (the first and the last are never held back). */
  publishIntervalMs?: number
  logger?: WarmupLogger
}

/** Runs kept in memory: the current one and a few before it. */
const RUNS_KEPT = 5
export const DEFAULT_PUBLISH_INTERVAL_MS = 300

interface TrackedRun {
  progress: RunProgress
  groups: Map<string, GroupProgress>
  lastPublishedMs: number
  timer: NodeJS.Timeout | undefined
}

export class RunProgressTracker implements WarmupListener {
  readonly #runs = new Map<string, TrackedRun>()
  readonly #board: RunProgressBoard | undefined
  readonly #intervalMs: number
  readonly #logger: WarmupLogger | undefined
  /** One warning per outage of the board, not one per publication. */
  #failing = false
  /** Publications not yet answered: close() waits for them, so a run's last one is not cut off. */
  readonly #inFlight = new Set<Promise<void>>()

  constructor(options: RunProgressTrackerOptions = {}) {
    this.#board = options.board
    this.#intervalMs = options.publishIntervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS
    this.#logger = options.logger
  }

  onPlan(plan: WarmupPlan): void {
    const groups = new Map<string, GroupProgress>()
    let listed = 0
    for (const target of plan.targets) {
      const entry = groups.get(target.group) ?? { group: target.group, keys: 0, completed: 0, warmed: 0, failed: 0 }
      entry.keys += target.keys
      listed += target.keys
      groups.set(target.group, entry)
    }
    // Targets whose listing failed count as one failed key each in the run's total, already done.
    const listingFailures = Math.max(0, plan.keys - listed)
    const previous = this.#runs.get(plan.runId)
    if (previous) clearTimeout(previous.timer)
    this.#runs.delete(plan.runId)
    this.#runs.set(plan.runId, {
      progress: { runId: plan.runId, keys: plan.keys, completed: listingFailures, warmed: 0, failed: listingFailures, groups: [], updatedAt: '', finished: false },
      groups,
      lastPublishedMs: Number.NEGATIVE_INFINITY,
      timer: undefined,
    })
    while (this.#runs.size > RUNS_KEPT) {
      const oldest = this.#runs.keys().next().value!
      clearTimeout(this.#runs.get(oldest)?.timer)
      this.#runs.delete(oldest)
    }
    this.#publishSoon(this.#runs.get(plan.runId)!)
  }

  onKey(progress: WarmupKeyProgress): void {
    const run = this.#runs.get(progress.runId)
    if (!run) return
    const entry = run.groups.get(progress.group) ?? { group: progress.group, keys: 0, completed: 0, warmed: 0, failed: 0 }
    entry.completed += 1
    if (progress.ok) entry.warmed += 1
    else entry.failed += 1
    // A key the plan did not count (it never happens today) must not show more than 100 %.
    entry.keys = Math.max(entry.keys, entry.completed)
    run.groups.set(progress.group, entry)
    run.progress.completed = Math.max(run.progress.completed, progress.completed)
    run.progress.keys = Math.max(run.progress.keys, progress.total)
    if (progress.ok) run.progress.warmed += 1
    else run.progress.failed += 1
    this.#publishSoon(run)
  }

  /** The run has ended (runner's onRunFinished): its totals from the summary, published at once. */
  finish(summary: Pick<WarmupSummary, 'runId' | 'keys' | 'warmed' | 'failed'>): void {
    const run = this.#runs.get(summary.runId)
    if (!run) return
    Object.assign(run.progress, { keys: summary.keys, completed: summary.warmed + summary.failed, warmed: summary.warmed, failed: summary.failed, finished: true })
    clearTimeout(run.timer)
    run.timer = undefined
    this.#publish(run)
  }

  /** The progress of `runId`, if this process planned it. */
  get(runId: string): RunProgress | undefined {
    const run = this.#runs.get(runId)
    return run && snapshot(run)
  }

  /** The progress of each of `runIds` that has one: from memory for runs of this process, else from the board. */
  async read(runIds: readonly string[]): Promise<Map<string, RunProgress>> {
    const found = new Map<string, RunProgress>()
    const elsewhere: string[] = []
    for (const runId of runIds) {
      const here = this.get(runId)
      if (here) found.set(runId, here)
      else elsewhere.push(runId)
    }
    if (elsewhere.length > 0 && this.#board) {
      for (const [runId, progress] of await this.#board.read(elsewhere)) found.set(runId, progress)
    }
    return found
  }

  /** Resolves once every publication made so far is answered (written, or failed and logged). */
  async published(): Promise<void> {
    await Promise.all(this.#inFlight)
  }

  async close(): Promise<void> {
    for (const run of this.#runs.values()) clearTimeout(run.timer)
    await this.published()
    await this.#board?.close()
  }

  /** Publishes now if the last publication is old enough, else once when it is (one timer per run). */
  #publishSoon(run: TrackedRun): void {
    if (!this.#board || run.timer) return
    const waitMs = run.lastPublishedMs + this.#intervalMs - Date.now()
    if (waitMs <= 0) {
      this.#publish(run)
      return
    }
    run.timer = setTimeout(() => {
      run.timer = undefined
      this.#publish(run)
    }, waitMs)
    run.timer.unref()
  }

  #publish(run: TrackedRun): void {
    if (!this.#board) return
    run.lastPublishedMs = Date.now()
    const publication = this.#board.publish(snapshot(run)).then(() => {
      if (this.#failing) this.#logger?.info({ runId: run.progress.runId }, 'warmup progress: publishing works again')
      this.#failing = false
    }, (error: unknown) => {
      if (!this.#failing) this.#logger?.warn({ runId: run.progress.runId, err: error }, `warmup progress: could not publish the progress of run ${run.progress.runId} (${errorMessage(error)}); other processes show the run without it until this works again`)
      this.#failing = true
    })
    this.#inFlight.add(publication)
    void publication.finally(() => this.#inFlight.delete(publication))
  }
}

function snapshot(run: TrackedRun): RunProgress {
  return { ...run.progress, groups: [...run.groups.values()].map((entry) => ({ ...entry })), updatedAt: new Date().toISOString() }
}

