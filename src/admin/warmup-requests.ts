// Manual warmups (admin API and CLI) go through here, to whichever scheduler backend the
// deployment runs (WarmupScheduler.enqueue: queued with deduplication on BullMQ, in process on
// the local one), or straight to the runner when the scheduler is off. Either way the answer
// comes at once: a clear-and-warmup's expiry is the first step of its run, not of the request.
import type { Runtime } from '../runtime.ts'
import type { AcceptedRun } from '../warmup/run-tracker.ts'
import type { WarmupListener } from '../warmup/summary.ts'

export interface WarmupRequest {
  groups: string[]
  trigger: string
  /** Empty the cache logically first (old values stay servable as stale until replaced). */
  clearFirst?: boolean
  listener?: WarmupListener
}

export type WarmupAccepted = AcceptedRun

export async function requestWarmup(runtime: Pick<Runtime, 'scheduler' | 'registry' | 'startRun'>, request: WarmupRequest): Promise<WarmupAccepted> {
  // Validate before anything starts: a bad request changes nothing.
  runtime.registry.resolveGroups(request.groups)
  const manual = { groups: request.groups, trigger: request.trigger, ...(request.clearFirst ? { clearFirst: true } : {}), ...(request.listener ? { listener: request.listener } : {}) }
  return runtime.scheduler ? runtime.scheduler.enqueue(manual) : runtime.startRun(manual)
}
