// Manual warmups (admin API and CLI) go through here, to whichever scheduler backend the
// deployment runs (WarmupScheduler.enqueue: queued with deduplication on BullMQ, in process on
// the local one), or straight to the runner when the scheduler is off. Either way the answer
// comes at once: a clear-and-warmup's expiry is the first step of its run, not of the request.
//
// Over HTTP there is one implementation (answerWarmup) and one body schema (warmupBodySchema);
// POST /api/scheduler/warmup, /api/scheduler/clear-and-warmup (the dashboard, the README) and
// /api/admin/warmup (the CLI) each take the fields of it they document and call it.
import type { FastifyReply } from 'fastify'
import { settingsOf } from '../operations/runtime-file.ts'
import type { Runtime } from '../runtime.ts'
import type { AcceptedRun } from '../warmup/run-tracker.ts'
import type { WarmupListener } from '../warmup/summary.ts'
import { ALL_GROUPS, type WarmTargetRegistry } from '../warmup/targets.ts'

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

/** Every field a warmup request may carry over HTTP; `type` is the one-group form of `groups`. */
export interface WarmupBody {
  type?: string
  groups?: string[]
  clearFirst?: boolean
  async?: boolean
}

/**
 * The body schema of a manual warmup, limited to the fields a route documents (`required` among
 * them). Group names are 'all' and the registry's groups: an unknown one is a 400 listing them.
 */
export function warmupBodySchema(registry: Pick<WarmTargetRegistry, 'groups'>, fields: readonly (keyof WarmupBody)[], required: readonly (keyof WarmupBody)[] = []) {
  const group = { type: 'string', enum: [ALL_GROUPS, ...registry.groups().map((each) => each.name)] }
  const all: Record<keyof WarmupBody, object> = {
    type: { ...group, default: ALL_GROUPS },
    groups: { type: 'array', minItems: 1, maxItems: 20, items: group },
    clearFirst: { type: 'boolean', default: false },
    async: { type: 'boolean', default: false },
  }
  return {
    type: 'object',
    additionalProperties: false,
    ...(required.length > 0 ? { required: [...required] } : {}),
    properties: Object.fromEntries(fields.map((field) => [field, all[field]])),
  }
}

/**
 * Starts (or joins) a manual warmup and answers: 202 with where to follow the run, or, when the
 * caller waits (`async: false`), 200 with the run's summary once it has finished. The trigger
 * names who asked (`admin`, `cli`), with `:clear` for a clear-and-warmup.
 */
export async function answerWarmup(runtime: Runtime, reply: FastifyReply, source: 'admin' | 'cli', body: WarmupBody): Promise<FastifyReply> {
  const clearFirst = body.clearFirst ?? false
  const groups = body.groups ?? [body.type ?? ALL_GROUPS]
  const accepted = await requestWarmup(runtime, { groups, trigger: clearFirst ? `${source}:clear` : source, clearFirst })
  if (!body.async) return reply.status(200).send({ ...(await accepted.done), alreadyRunning: accepted.alreadyRunning })
  // The caller follows the run through its record; a failure is in the record and the log.
  accepted.done.catch(() => {})
  return reply.status(202).send({
    runId: accepted.runId,
    alreadyRunning: accepted.alreadyRunning,
    server: { instance: runtime.instanceId, pid: process.pid, settings: settingsOf(runtime.config) },
    status: `/api/scheduler/runs/${accepted.runId}`,
    keys: `/api/scheduler/runs/${accepted.runId}/keys`,
  })
}
