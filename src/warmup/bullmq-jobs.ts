// The BullMQ scheduler's job shapes and the small pure helpers around them: what a job
// carries, what it returns, how a finished job reads as a last tick or a run record.
import type { Job } from 'bullmq'
import type { AcceptedRun } from './run-tracker.ts'
import type { LastTick } from './scheduler.ts'
import type { WarmupSummary } from './summary.ts'

export interface WarmupJobData {
  kind: 'schedule' | 'manual'
  job?: string
  groups: string[]
  trigger: string
  runId?: string
  clearFirst?: boolean
}

/** What a processed job returns; stored by BullMQ and shown by status(). */
export interface WarmupJobResult {
  instance: string
  runId: string
  status: string
  keys: number
  warmed: number
  failed: number
  durationMs: number
  finishedAt: string
  /** The request joined a run already going on that instance (see WarmupRunner.start). */
  joined: boolean
}

export interface EnqueuedWarmup extends AcceptedRun {
  /** The queued job ('' when Redis was unreachable and the run went ahead in this process). */
  jobId: string
  /** Another manual run was already queued or running; its ids are returned instead. */
  deduplicated: boolean
  /** Redis was unreachable: the run was started in this process instead of queued. */
  local: boolean
}

/** A job's own result as a run record, for when neither memory nor the history has the run. */
export function recordFromResult(result: WarmupJobResult, job: Job<WarmupJobData, WarmupJobResult> | undefined): WarmupSummary {
  return {
    runId: result.runId, trigger: job?.data.trigger ?? 'manual', groups: job?.data.groups ?? [], instance: result.instance,
    status: result.status as WarmupSummary['status'], keys: result.keys, warmed: result.warmed, failed: result.failed, durationMs: result.durationMs,
    errors: [], slowest: [], startedAt: new Date(job?.processedOn ?? Date.now()).toISOString(), finishedAt: result.finishedAt,
  }
}

export function lastTickOf(job: Job<WarmupJobData, WarmupJobResult>): LastTick {
  const finishedAt = new Date(job.finishedOn ?? Date.now()).toISOString()
  const result = job.returnvalue as WarmupJobResult | null | undefined
  if (result && typeof result === 'object' && !job.failedReason) {
    return { finishedAt, instance: result.instance, runId: result.runId, status: result.status, keys: result.keys, warmed: result.warmed, failed: result.failed, durationMs: result.durationMs }
  }
  return { finishedAt, instance: job.processedBy ?? null, runId: job.data.runId ?? null, status: 'failed', error: job.failedReason || 'failed' }
}
