// Per-group progress of the runs this process is running, for the operator dashboard's
// progress bars. Fed by the runner's listenAll(); keeps only the last few runs, so its memory
// is bounded whatever the number of runs.
import type { WarmupKeyProgress, WarmupListener, WarmupPlan } from './summary.ts'

export interface GroupProgress {
  group: string
  keys: number
  completed: number
  warmed: number
  failed: number
}

export interface RunProgress {
  runId: string
  groups: GroupProgress[]
}

const RUNS_KEPT = 5

export class RunProgressTracker implements WarmupListener {
  readonly #runs = new Map<string, Map<string, GroupProgress>>()

  onPlan(plan: WarmupPlan): void {
    const groups = new Map<string, GroupProgress>()
    for (const target of plan.targets) {
      const entry = groups.get(target.group) ?? { group: target.group, keys: 0, completed: 0, warmed: 0, failed: 0 }
      entry.keys += target.keys
      groups.set(target.group, entry)
    }
    this.#runs.delete(plan.runId)
    this.#runs.set(plan.runId, groups)
    while (this.#runs.size > RUNS_KEPT) this.#runs.delete(this.#runs.keys().next().value!)
  }

  onKey(progress: WarmupKeyProgress): void {
    const groups = this.#runs.get(progress.runId)
    if (!groups) return
    const entry = groups.get(progress.group) ?? { group: progress.group, keys: 0, completed: 0, warmed: 0, failed: 0 }
    entry.completed += 1
    if (progress.ok) entry.warmed += 1
    else entry.failed += 1
    // A key the plan did not count (it never happens today) must not show more than 100 %.
    entry.keys = Math.max(entry.keys, entry.completed)
    groups.set(progress.group, entry)
  }

  /** The per-group progress of `runId`, if this process planned it. */
  get(runId: string): RunProgress | undefined {
    const groups = this.#runs.get(runId)
    return groups && { runId, groups: [...groups.values()].map((entry) => ({ ...entry })) }
  }
}
