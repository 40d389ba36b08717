// The scheduler for several instances sharing one Redis. Every instance registers the same
// BullMQ job schedulers under fixed ids (the job names) and may run a Worker; BullMQ puts
// each tick in the queue once, so exactly one instance runs it. Manual runs go through the
// same queue with a deduplication id, and the queue's global concurrency of 1 keeps a
// manual run and a scheduled one from running at the same time on two instances.
import { Queue, Worker, type Job } from 'bullmq'
import type { ScheduleJob } from '../config.ts'
import { InvalidParameterError, SchedulerError } from '../errors.ts'
import { errorMessage } from './logger.ts'
import { newRunId } from './runner.ts'
import {
  DEFAULT_TIME_ZONE, lastTickFromHistory, validateJobs, validateTimeZone,
  type LastTick, type SchedulerCommonOptions, type SchedulerStatus, type SchedulerTick, type ScheduledJobStatus, type WarmupScheduler,
} from './scheduler.ts'

export interface BullmqSchedulerOptions extends SchedulerCommonOptions {
  redisUrl: string
  /** BullMQ key prefix (config.redisPrefix); tests give each test its own. */
  prefix?: string
  queueName?: string
  /** False: only register the schedules and enqueue; leave running them to other instances. */
  runWorker?: boolean
  /** Tries per run, counting the first (a run whose status is 'failed' or 'interrupted' is retried). */
  attempts?: number
  /** First retry delay; doubles each retry (exponential). */
  backoffMs?: number
  /** How long a job's lock lives without renewal; an instance that died is noticed this long after. */
  lockDurationMs?: number
  stalledIntervalMs?: number
  /** Times a job may stall (its instance died) and be picked up again before it is failed. */
  maxStalledCount?: number
  /** Finished jobs kept per state; status() reads the last run of each job from them. */
  keepFinished?: number
}

export interface WarmupJobData {
  kind: 'schedule' | 'manual'
  job?: string
  groups: string[]
  trigger: string
  runId?: string
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

export interface EnqueuedWarmup {
  runId: string
  jobId: string
  /** Another manual run was already queued or running; its ids are returned instead. */
  deduplicated: boolean
}

const MANUAL_JOB = 'manual'
const MANUAL_DEDUPLICATION_ID = 'warmup-manual'

/** A run that failed as a whole throws, so BullMQ retries it with backoff. */
export class WarmupRunFailedError extends Error {
  constructor(readonly result: WarmupJobResult) {
    super(`warmup run ${result.runId} ${result.status}: ${result.failed}/${result.keys} keys failed`)
  }
}

export class BullmqScheduler implements WarmupScheduler {
  readonly backend = 'bullmq' as const
  readonly #options: BullmqSchedulerOptions & Required<Pick<BullmqSchedulerOptions, 'queueName' | 'prefix' | 'attempts' | 'backoffMs' | 'keepFinished'>>
  readonly #timeZone: string
  readonly queue: Queue<WarmupJobData, WarmupJobResult>
  #jobs: ScheduleJob[]
  #worker: Worker<WarmupJobData, WarmupJobResult> | undefined
  #closed = false

  /** Validates jobs and time zone (SchedulerError naming the bad job); opens the queue connection. */
  constructor(options: BullmqSchedulerOptions) {
    this.#options = { queueName: 'warmup', prefix: 'bull', attempts: 3, backoffMs: 30_000, keepFinished: 200, ...options }
    this.#timeZone = validateTimeZone(options.timeZone ?? DEFAULT_TIME_ZONE)
    this.#jobs = validateJobs(options.jobs, this.#timeZone, options.validateGroups)
    // Queue calls fail after a few retries instead of hanging an admin request while Redis is down.
    this.queue = new Queue<WarmupJobData, WarmupJobResult>(this.#options.queueName, { connection: { url: options.redisUrl, maxRetriesPerRequest: 2 }, prefix: this.#options.prefix })
    this.queue.on('error', (error) => this.#options.logger.error({ err: error }, `scheduler queue error: ${errorMessage(error)}`))
  }

  get timeZone(): string {
    return this.#timeZone
  }

  async start(): Promise<void> {
    if (this.#closed) throw new SchedulerError('The BullMQ scheduler is closed')
    const { logger, instanceId, queueName, prefix } = this.#options
    await this.#sync(this.#jobs)
    // One warmup at a time across every instance, whatever enqueued it.
    await this.queue.setGlobalConcurrency(1)
    if (this.#options.runWorker !== false && !this.#worker) this.#worker = this.#createWorker()
    logger.info({ backend: this.backend, queue: queueName, prefix, instance: instanceId, timeZone: this.#timeZone, jobs: this.#jobs.length, worker: Boolean(this.#worker) }, `scheduler started (bullmq, queue ${prefix}:${queueName}, ${this.#timeZone}) with ${this.#jobs.length} jobs`)
  }

  async register(jobs: readonly ScheduleJob[]): Promise<void> {
    const validated = validateJobs(jobs, this.#timeZone, this.#options.validateGroups)
    this.#jobs = validated
    await this.#sync(validated)
  }

  /** This instance stops taking ticks; the schedules stay in Redis for the other instances. */
  async stop(): Promise<void> {
    const worker = this.#worker
    if (!worker) return
    this.#worker = undefined
    // Waits for a job in progress; close the runner first (or alongside) to cut it short.
    await worker.close()
    this.#options.logger.info({ backend: this.backend, instance: this.#options.instanceId }, 'scheduler stopped (bullmq worker closed)')
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.stop()
    await this.queue.close()
  }

  /**
   * Queues a manual warmup. While one is queued or running, another request gets that one's
   * ids back (deduplicated: true) instead of a second run. Unknown groups throw before anything is queued.
   */
  async enqueue(request: { groups?: string[]; trigger: string; runId?: string; attempts?: number }): Promise<EnqueuedWarmup> {
    if (this.#closed) throw new SchedulerError('The BullMQ scheduler is closed')
    const groups = request.groups ?? ['all']
    this.#options.validateGroups?.(groups)
    const runId = request.runId ?? newRunId()
    if (!/^[A-Za-z0-9][\w.-]{0,99}$/.test(runId)) throw new InvalidParameterError('runId', `'${runId}' is not a valid run id`)
    const jobId = `manual-${runId}`
    const job = await this.queue.add(MANUAL_JOB, { kind: 'manual', groups, trigger: request.trigger, runId }, {
      ...this.#jobOptions(),
      // By default someone is waiting for a manual run's answer: report a failure now instead
      // of retrying behind their back (a retry would also hold the deduplication id and swallow
      // the next request). Scheduled ticks always retry.
      attempts: request.attempts ?? 1,
      jobId,
      // One queued or running manual run per set of groups: two admins asking for the same thing
      // share a run, while a request for other groups queues behind it (global concurrency 1).
      deduplication: { id: `${MANUAL_DEDUPLICATION_ID}:${[...groups].sort().join('+')}` },
    })
    if (job.id === jobId) {
      this.#options.logger.info({ runId, jobId, groups, trigger: request.trigger }, `warmup queued: run ${runId} (${request.trigger})`)
      return { runId, jobId, deduplicated: false }
    }
    // BullMQ answers a deduplicated add with the id of the job that holds the deduplication key.
    const existing = job.id ? await this.queue.getJob(job.id) : undefined
    const existingRunId = existing?.data.runId ?? runId
    this.#options.logger.info({ runId: existingRunId, jobId: job.id, trigger: request.trigger }, `warmup already queued or running (run ${existingRunId}); trigger ${request.trigger} joins it`)
    return { runId: existingRunId, jobId: job.id ?? jobId, deduplicated: true }
  }

  async status(): Promise<SchedulerStatus> {
    const [schedulers, finished] = await Promise.all([
      this.queue.getJobSchedulers(0, -1, true),
      this.queue.getJobs(['completed', 'failed'], 0, this.#options.keepFinished, false),
    ])
    const lastTicks = new Map<string, LastTick & { at: number }>()
    for (const job of finished) {
      if (!job.repeatJobKey || job.finishedOn === undefined) continue
      const seen = lastTicks.get(job.repeatJobKey)
      if (seen && seen.at >= job.finishedOn) continue
      lastTicks.set(job.repeatJobKey, { at: job.finishedOn, ...lastTickOf(job) })
    }
    const byId = new Map(schedulers.map((scheduler) => [scheduler.id ?? scheduler.key, scheduler]))
    // Configured jobs first, in config order; then any another instance registered that this config lacks.
    const ids = [...new Set([...this.#jobs.map((job) => job.name), ...byId.keys()])]
    const jobs: ScheduledJobStatus[] = await Promise.all(ids.map(async (id) => {
      const registered = byId.get(id)
      const configured = this.#jobs.find((job) => job.name === id)
      const seen = lastTicks.get(id)
      const { at: _at, ...lastTick } = seen ?? { at: 0 }
      return {
        name: id,
        cron: registered?.pattern ?? configured?.cron ?? '',
        groups: registered?.template?.data?.groups ?? configured?.groups ?? [],
        timeZone: registered?.tz ?? this.#timeZone,
        nextRun: registered?.next !== undefined ? new Date(registered.next).toISOString() : null,
        lastRun: seen ? (lastTick as LastTick) : await this.#lastFromHistory(id),
      }
    }))
    return { backend: this.backend, running: this.#worker?.isRunning() ?? false, instanceId: this.#options.instanceId, timeZone: this.#timeZone, jobs }
  }

  /** Upserts changed or new schedulers, leaves identical ones alone and removes the rest. */
  async #sync(jobs: readonly ScheduleJob[]): Promise<void> {
    const { logger } = this.#options
    for (const job of jobs) {
      const existing = await this.queue.getJobScheduler(job.name)
      const unchanged = existing && existing.pattern === job.cron && existing.tz === this.#timeZone &&
        JSON.stringify(existing.template?.data?.groups) === JSON.stringify(job.groups)
      // Skipping an identical upsert matters: BullMQ would replace a due job still waiting in
      // the queue with the following iteration, losing that tick.
      if (unchanged) {
        logger.debug({ job: job.name }, `scheduler job ${job.name} already registered`)
        continue
      }
      try {
        await this.queue.upsertJobScheduler(job.name, { pattern: job.cron, tz: this.#timeZone }, {
          name: `schedule:${job.name}`,
          data: { kind: 'schedule', job: job.name, groups: job.groups, trigger: `schedule:${job.name}` },
          opts: this.#jobOptions(),
        })
      } catch (error) {
        throw new SchedulerError(`Schedule job '${job.name}' could not be registered with BullMQ (cron '${job.cron}'): ${errorMessage(error)}`, { job: job.name, cron: job.cron }, { cause: error })
      }
      const next = (await this.queue.getJobScheduler(job.name))?.next
      logger.info({ job: job.name, cron: job.cron, groups: job.groups, timeZone: this.#timeZone, nextRun: next ? new Date(next).toISOString() : null, updated: Boolean(existing) }, `scheduler ${existing ? 'updated' : 'registered'} job ${job.name} (${job.cron}, ${this.#timeZone})`)
    }
    const wanted = new Set(jobs.map((job) => job.name))
    for (const scheduler of await this.queue.getJobSchedulers(0, -1, true)) {
      const id = scheduler.id ?? scheduler.key
      if (wanted.has(id)) continue
      await this.queue.removeJobScheduler(id)
      logger.info({ job: id }, `scheduler removed job ${id} (no longer configured)`)
    }
  }

  #jobOptions(): { attempts: number; backoff: { type: 'exponential'; delay: number }; removeOnComplete: { count: number }; removeOnFail: { count: number } } {
    const { attempts, backoffMs, keepFinished } = this.#options
    return { attempts, backoff: { type: 'exponential', delay: backoffMs }, removeOnComplete: { count: keepFinished }, removeOnFail: { count: keepFinished } }
  }

  #createWorker(): Worker<WarmupJobData, WarmupJobResult> {
    const { logger, instanceId, queueName, prefix, redisUrl } = this.#options
    const worker = new Worker<WarmupJobData, WarmupJobResult>(queueName, (job) => this.#process(job), {
      connection: { url: redisUrl },
      prefix,
      concurrency: 1,
      // Stored on every job as processedBy: which instance ran it, failed runs included.
      name: instanceId,
      ...(this.#options.lockDurationMs !== undefined ? { lockDuration: this.#options.lockDurationMs } : {}),
      ...(this.#options.stalledIntervalMs !== undefined ? { stalledInterval: this.#options.stalledIntervalMs } : {}),
      maxStalledCount: this.#options.maxStalledCount ?? 2,
    })
    worker.on('error', (error) => logger.error({ err: error }, `scheduler worker error: ${errorMessage(error)}`))
    worker.on('stalled', (jobId) => logger.warn({ jobId }, `scheduler job ${jobId} stalled (its instance stopped renewing the lock); it runs again`))
    worker.on('failed', (job, error) => logger.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: error }, `scheduler job ${job?.id ?? '?'} failed: ${errorMessage(error)}`))
    return worker
  }

  async #process(job: Job<WarmupJobData, WarmupJobResult>): Promise<WarmupJobResult> {
    const { data } = job
    const tick: SchedulerTick = {
      job: data.job,
      groups: data.groups,
      trigger: data.trigger,
      ...(data.runId !== undefined ? { runId: data.runId } : {}),
      // prevMillis is the cron instant of a scheduler's job; a manual job is due when added.
      scheduledAt: new Date(job.opts.prevMillis ?? job.timestamp).toISOString(),
      attempt: job.attemptsMade + 1,
    }
    this.#options.logger.info({ jobId: job.id, job: data.job, groups: data.groups, trigger: data.trigger, attempt: tick.attempt }, `scheduler tick: ${data.job ?? data.trigger} (job ${job.id})`)
    const summary = await this.#options.onTick(tick)
    const result: WarmupJobResult = {
      instance: this.#options.instanceId,
      runId: summary.runId,
      status: summary.status,
      keys: summary.keys,
      warmed: summary.warmed,
      failed: summary.failed,
      durationMs: summary.durationMs,
      finishedAt: summary.finishedAt,
      joined: summary.trigger !== tick.trigger || (tick.runId !== undefined && summary.runId !== tick.runId),
    }
    if (summary.status === 'failed' || summary.status === 'interrupted') throw new WarmupRunFailedError(result)
    return result
  }

  #lastFromHistory(job: string): Promise<LastTick | null> {
    return lastTickFromHistory(this.#options.history, this.#options.logger, job)
  }
}

function lastTickOf(job: Job<WarmupJobData, WarmupJobResult>): LastTick {
  const finishedAt = new Date(job.finishedOn ?? Date.now()).toISOString()
  const result = job.returnvalue as WarmupJobResult | null | undefined
  if (result && typeof result === 'object' && !job.failedReason) {
    return { finishedAt, instance: result.instance, runId: result.runId, status: result.status, keys: result.keys, warmed: result.warmed, failed: result.failed, durationMs: result.durationMs }
  }
  return { finishedAt, instance: job.processedBy ?? null, runId: job.data.runId ?? null, status: 'failed', error: job.failedReason || 'failed' }
}
