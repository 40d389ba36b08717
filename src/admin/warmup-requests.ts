// Manual warmups (admin API and CLI) go through here. With the BullMQ scheduler they are
// queued with a deduplication id, so two admins on two instances cannot start parallel runs;
// with the local scheduler the runner itself refuses to overlap and hands back the running run.
import type { Runtime } from '../runtime.ts'
import { BullmqScheduler } from '../warmup/bullmq-scheduler.ts'
import { newRunId } from '../warmup/runner.ts'
import type { WarmupListener, WarmupRunRecord, WarmupSummary } from '../warmup/summary.ts'

export interface WarmupRequest {
  groups: string[]
  trigger: string
  /** Empty the cache logically first (old values stay servable as stale until replaced). */
  clearFirst?: boolean
  listener?: WarmupListener
}

export interface WarmupAccepted {
  runId: string
  /** The request joined a run already queued or running. */
  alreadyRunning: boolean
  /** Resolves with the run's summary (or its history record when another instance ran it). */
  done: Promise<WarmupSummary | WarmupRunRecord>
}

export async function requestWarmup(runtime: Pick<Runtime, 'runner' | 'scheduler' | 'history' | 'cache' | 'registry' | 'finishedRun' | 'followRun'>, request: WarmupRequest): Promise<WarmupAccepted> {
  // Validate before clearing anything: a bad request changes nothing.
  runtime.registry.resolveGroups(request.groups)
  if (request.clearFirst) await runtime.cache.expireAll()
  const scheduler = runtime.scheduler
  if (scheduler instanceof BullmqScheduler) {
    // The run id is chosen here so the listener is in place before this process's own worker
    // (the CLI runs one) can take the run.
    const runId = newRunId()
    const unfollow = request.listener ? runtime.followRun(runId, request.listener) : () => {}
    try {
      const queued = await scheduler.enqueue({ groups: request.groups, trigger: request.trigger, runId })
      const done = waitForRecord(runtime, queued.runId, { job: () => jobOutcome(scheduler, queued.jobId) })
      return { runId: queued.runId, alreadyRunning: queued.deduplicated, done: done.finally(unfollow) }
    } catch (error) {
      unfollow()
      throw error
    }
  }
  const { run, alreadyRunning } = runtime.runner.start({ groups: request.groups, trigger: request.trigger, ...(request.listener ? { listener: request.listener } : {}) })
  return { runId: run.runId, alreadyRunning, done: run.done }
}

/**
 * Waits until the run (on whichever instance took it) has finished: looks in this process's
 * memory of its own finished runs first, then in the shared run history. While the history
 * cannot be read (the database is down) it keeps looking for `unreadableMs`, time enough for a
 * run on this instance to end and be found in memory, and then reports the database error
 * instead of waiting on.
 */
export async function waitForRecord(
  runtime: Pick<Runtime, 'history' | 'finishedRun'>,
  runId: string,
  options: { timeoutMs?: number; unreadableMs?: number; job?: () => Promise<JobOutcome | undefined> } = {},
): Promise<WarmupSummary | WarmupRunRecord> {
  const timeoutMs = options.timeoutMs ?? 10 * 60_000
  const unreadableMs = options.unreadableMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  let unreadableSince: number | undefined
  for (;;) {
    const finishedHere = runtime.finishedRun(runId)
    if (finishedHere) return finishedHere
    // The queued job may have been answered by another run (it joined one covering its
    // groups); its result names that run, which is the one to report.
    const outcome = await options.job?.().catch(() => undefined)
    if (outcome) {
      const coveringId = outcome.runId ?? runId
      const found = runtime.finishedRun(coveringId) ?? (await runtime.history.get(coveringId).catch(() => undefined))
      if (found && found.status !== 'running') return found
      if (outcome.failedReason !== undefined && coveringId === runId && !found) throw new Error(`warmup run ${runId} failed: ${outcome.failedReason}`)
    }
    try {
      const record = await runtime.history.get(runId)
      if (record && record.status !== 'running') return record
      unreadableSince = undefined
    } catch (error) {
      unreadableSince ??= Date.now()
      if (Date.now() - unreadableSince > unreadableMs) throw error
    }
    if (Date.now() > deadline) throw new Error(`warmup run ${runId} did not finish within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export interface JobOutcome {
  /** The run that answered the job (another run's id when the job joined it). */
  runId?: string
  failedReason?: string
}

/** The finished state of a queued warmup job, or undefined while it waits, runs or awaits a retry. */
async function jobOutcome(scheduler: BullmqScheduler, jobId: string): Promise<JobOutcome | undefined> {
  const job = await scheduler.queue.getJob(jobId)
  if (!job) return undefined
  const state = await job.getState()
  if (state === 'completed') return { runId: job.returnvalue?.runId }
  if (state === 'failed') return { failedReason: job.failedReason || 'failed', ...(job.returnvalue?.runId ? { runId: job.returnvalue.runId } : {}) }
  return undefined
}
