// Manual warmups (admin API and CLI) go through here. With the BullMQ scheduler they are
// queued with a deduplication id, so two admins on two instances cannot start parallel runs;
// with the local scheduler the runner itself refuses to overlap and hands back the running run.
import type { Runtime } from '../runtime.ts'
import { BullmqScheduler } from '../warmup/bullmq-scheduler.ts'
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

export async function requestWarmup(runtime: Pick<Runtime, 'runner' | 'scheduler' | 'history' | 'cache' | 'registry'>, request: WarmupRequest): Promise<WarmupAccepted> {
  // Validate before clearing anything: a bad request changes nothing.
  runtime.registry.resolveGroups(request.groups)
  if (request.clearFirst) await runtime.cache.expireAll()
  const scheduler = runtime.scheduler
  if (scheduler instanceof BullmqScheduler) {
    const queued = await scheduler.enqueue({ groups: request.groups, trigger: request.trigger })
    return { runId: queued.runId, alreadyRunning: queued.deduplicated, done: waitForRecord(runtime.history, queued.runId) }
  }
  const { run, alreadyRunning } = runtime.runner.start({ groups: request.groups, trigger: request.trigger, ...(request.listener ? { listener: request.listener } : {}) })
  return { runId: run.runId, alreadyRunning, done: run.done }
}

/** Polls the shared run history until the run (on whichever instance took it) has finished. */
export async function waitForRecord(history: Runtime['history'], runId: string, timeoutMs = 10 * 60_000): Promise<WarmupRunRecord> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const record = await history.get(runId)
    if (record && record.status !== 'running') return record
    if (Date.now() > deadline) throw new Error(`warmup run ${runId} did not finish within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
