// The scheduler for several instances sharing one Redis. Every instance registers the same
// BullMQ job schedulers under fixed ids (the job names) and may run a Worker; BullMQ puts
// each tick in the queue once, so exactly one instance runs it. Manual runs go through the
// same queue with a deduplication id, and the queue's global concurrency of 1 keeps a
// manual run and a scheduled one from running at the same time on two instances.
import { Queue, QueueEvents, Worker, type Job } from 'bullmq'
import { settlesWithin } from '../async-limits.ts'
import type { ScheduleJob } from '../config.ts'
import { SchedulerError, SchedulerUnavailableError, WarmupRunFailedError } from '../errors.ts'
import { lastTickOf, recordFromResult, type EnqueuedWarmup, type WarmupJobData, type WarmupJobResult } from './bullmq-jobs.ts'
import { errorMessage } from './logger.ts'
import { RedisLink } from './redis-link.ts'
import { assertRunId, newRunId } from './run-tracker.ts'
import {
  DEFAULT_TIME_ZONE, lastTickFromHistory, startInProcess, validateJobs, validateTimeZone,
  type LastTick, type ManualRunRequest, type SchedulerCommonOptions, type SchedulerStatus, type SchedulerTick, type ScheduledJobStatus, type WarmupScheduler,
} from './scheduler.ts'
import type { WarmupRunRecord, WarmupSummary } from './summary.ts'

export { type EnqueuedWarmup, type WarmupJobData, type WarmupJobResult }

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
  /** How long start() waits for a first connection before going on without Redis. */
  connectWaitMs?: number
  /** Longest a caller waits for a queued run to finish. */
  runTimeoutMs?: number
}

const MANUAL_JOB = 'manual'
const MANUAL_DEDUPLICATION_ID = 'warmup-manual'
/** Bounds on Redis work during shutdown, so SIGTERM ends the process even with Redis gone. */
const CLOSE_TIMEOUT_MS = 5000

export class BullmqScheduler implements WarmupScheduler {
  readonly backend = 'bullmq' as const
  readonly sharedStatus = true
  readonly #options: BullmqSchedulerOptions & Required<Pick<BullmqSchedulerOptions, 'queueName' | 'prefix' | 'attempts' | 'backoffMs' | 'keepFinished' | 'connectWaitMs' | 'runTimeoutMs'>>
  readonly #timeZone: string
  readonly #link: RedisLink
  readonly queue: Queue<WarmupJobData, WarmupJobResult>
  #jobs: ScheduleJob[]
  #worker: Worker<WarmupJobData, WarmupJobResult> | undefined
  #events: QueueEvents | undefined
  /** start() was called: sync the jobs and run the worker whenever Redis is (again) reachable. */
  #scheduling = false
  /** join() was called: run a worker whenever Redis is reachable, without announcing a started scheduler. */
  #joined = false
  #started = false
  /** start() or join() is waiting for the first connection and activates itself when it comes. */
  #awaitingFirst = 0
  #activation: Promise<void> = Promise.resolve()
  #closed = false

  /** Validates jobs and time zone (SchedulerError naming the bad job); opens the queue connection. */
  constructor(options: BullmqSchedulerOptions) {
    this.#options = { queueName: 'warmup', prefix: 'bull', attempts: 3, backoffMs: 30_000, keepFinished: 200, connectWaitMs: 3000, runTimeoutMs: 10 * 60_000, ...options }
    this.#timeZone = validateTimeZone(options.timeZone ?? DEFAULT_TIME_ZONE)
    this.#jobs = validateJobs(options.jobs, this.#timeZone, options.validateGroups)
    this.#link = new RedisLink({ url: options.redisUrl, logger: options.logger, what: 'scheduler (bullmq)', onUp: (reconnected) => this.#whenUp(reconnected) })
    this.queue = new Queue<WarmupJobData, WarmupJobResult>(this.#options.queueName, { connection: this.#link.connection, prefix: this.#options.prefix })
    this.queue.on('error', (error) => this.#link.noteError('queue', error))
  }

  get timeZone(): string {
    return this.#timeZone
  }

  /**
   * Registers the jobs and starts the worker, waiting up to connectWaitMs for Redis. When Redis
   * does not answer it returns anyway: the jobs are registered and the worker started as soon as
   * Redis answers (the link logs the outage once), and manual runs go ahead in this process.
   */
  async start(): Promise<void> {
    if (this.#closed) throw new SchedulerError('The BullMQ scheduler is closed')
    this.#scheduling = true
    if (await this.#firstConnection()) await this.#activate()
  }

  async join(): Promise<void> {
    if (this.#closed) throw new SchedulerError('The BullMQ scheduler is closed')
    this.#joined = true
    if (await this.#firstConnection()) await this.#activate()
  }

  async #firstConnection(): Promise<boolean> {
    this.#awaitingFirst += 1
    try {
      return await this.#link.firstOutcome(this.#options.connectWaitMs)
    } finally {
      this.#awaitingFirst -= 1
    }
  }

  async register(jobs: readonly ScheduleJob[]): Promise<void> {
    const validated = validateJobs(jobs, this.#timeZone, this.#options.validateGroups)
    this.#jobs = validated
    // While Redis is away the set is kept and synced when it answers.
    if (this.#link.up) await this.#sync(validated)
  }

  /** This instance stops taking ticks; the schedules stay in Redis for the other instances. */
  async stop(): Promise<void> {
    this.#scheduling = false
    this.#joined = false
    const worker = this.#worker
    if (!worker) return
    this.#worker = undefined
    // Waits for a job in progress (close the runner first to cut it short), but not for a Redis that is gone.
    if (!(await settlesWithin(worker.close(), CLOSE_TIMEOUT_MS))) await settlesWithin(worker.close(true), CLOSE_TIMEOUT_MS)
    this.#options.logger.info({ backend: this.backend, instance: this.#options.instanceId }, 'scheduler stopped (bullmq worker closed)')
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.stop()
    await settlesWithin(this.#events?.close() ?? Promise.resolve(), CLOSE_TIMEOUT_MS)
    await settlesWithin(this.queue.close(), CLOSE_TIMEOUT_MS)
    this.#link.close()
  }

  /**
   * Queues a manual warmup. While one for the same groups (and clearing or not) is queued or
   * running, another request gets that one's ids back (deduplicated: true) instead of a second
   * run. Unknown groups throw before anything is queued. With Redis unreachable the run starts
   * in this process (local: true); a queue that stops answering mid-call is a 503.
   */
  async enqueue(request: Partial<ManualRunRequest> & { trigger: string; runId?: string; attempts?: number; followUp?: boolean }): Promise<EnqueuedWarmup> {
    if (this.#closed) throw new SchedulerError('The BullMQ scheduler is closed')
    const groups = request.groups ?? ['all']
    this.#options.validateGroups?.(groups)
    const runId = assertRunId(request.runId ?? newRunId())
    const clearFirst = request.clearFirst === true
    if (!this.#link.up) {
      this.#options.logger.info({ runId, groups, trigger: request.trigger }, `warmup queue unreachable (Redis ${this.#link.state}): run ${runId} (${request.trigger}) goes ahead in this process`)
      const started = startInProcess(this.#options, { groups, trigger: request.trigger, runId, clearFirst, ...(request.listener ? { listener: request.listener } : {}) })
      return { runId: started.runId, alreadyRunning: started.alreadyRunning, done: started.done, jobId: '', deduplicated: false, local: true }
    }
    // The listener is in place before this process's own worker (a CLI runs one) can take the run.
    const unfollow = request.listener && this.#options.runs ? this.#options.runs.follow(runId, request.listener) : () => {}
    const jobId = `manual-${runId}`
    let job: Job<WarmupJobData, WarmupJobResult>
    try {
      job = await this.queue.add(MANUAL_JOB, { kind: 'manual', groups, trigger: request.trigger, runId, ...(clearFirst ? { clearFirst } : {}) }, {
        ...this.#jobOptions(),
        // By default someone is waiting for a manual run's answer: report a failure now instead
        // of retrying behind their back (a retry would also hold the deduplication id and swallow
        // the next request). Scheduled ticks always retry.
        attempts: request.attempts ?? 1,
        jobId,
        // One queued or running manual run per set of groups (and per clearing or not): two admins
        // asking for the same thing share a run, while other requests queue behind it (global concurrency 1).
        deduplication: { id: `${MANUAL_DEDUPLICATION_ID}:${[...groups].sort().join('+')}${clearFirst ? ':clear' : ''}${request.followUp ? ':again' : ''}` },
      })
    } catch (error) {
      unfollow()
      throw new SchedulerUnavailableError('The warmup queue (Redis) did not answer; the run was not queued. Try again', { cause: error })
    }
    if (job.id === jobId) {
      this.#options.logger.info({ runId, jobId, groups, trigger: request.trigger }, `warmup queued: run ${runId} (${request.trigger})`)
      return this.#accepted(runId, jobId, false, unfollow)
    }
    // BullMQ answers a deduplicated add with the id of the job that holds the deduplication key.
    unfollow()
    const existing = job.id ? await this.queue.getJob(job.id).catch(() => undefined) : undefined
    // A clear that finds its clearing run already started may come after that run's expiry: it
    // queues one follow-up clearing run instead (the local runner adds one more expiry to the
    // run), so no clear ever answers for a change it missed. Requests arriving while the
    // follow-up waits share it.
    if (clearFirst && request.followUp !== true && (await existing?.isActive().catch(() => false))) {
      return this.enqueue({ ...request, runId, followUp: true })
    }
    const existingRunId = existing?.data.runId ?? runId
    this.#options.logger.info({ runId: existingRunId, jobId: job.id, trigger: request.trigger }, `warmup already queued or running (run ${existingRunId}); trigger ${request.trigger} joins it`)
    return this.#accepted(existingRunId, job.id ?? jobId, true, () => {})
  }

  /**
   * `done` is built on first use (and not enumerable), so a caller that never reads it leaves no
   * waiter behind, and copying the answer does not start one.
   */
  #accepted(runId: string, jobId: string, deduplicated: boolean, unfollow: () => void): EnqueuedWarmup {
    let done: Promise<WarmupSummary | WarmupRunRecord> | undefined
    const accepted = { runId, jobId, deduplicated, alreadyRunning: deduplicated, local: false } as EnqueuedWarmup
    Object.defineProperty(accepted, 'done', {
      enumerable: false,
      get: () => {
        done ??= this.#awaitJob(jobId, runId).finally(unfollow)
        return done
      },
    })
    return accepted
  }

  /**
   * Waits for a queued job through BullMQ's event stream (no polling), then reports the run
   * that answered it: this process's memory first, the run history second, the job's own
   * result last (the database may be down exactly when a failed run must be reported).
   */
  async #awaitJob(jobId: string, runId: string): Promise<WarmupSummary | WarmupRunRecord> {
    const events = await this.#queueEvents()
    const job = await this.queue.getJob(jobId)
    let result: WarmupJobResult | undefined
    let failure: unknown
    if (job) {
      try {
        result = await job.waitUntilFinished(events, this.#options.runTimeoutMs)
      } catch (error) {
        failure = error
      }
    }
    // A job answered by another run (it joined one covering its groups) names that run.
    const coveringId = result?.runId ?? runId
    const found = await this.#options.runs?.settled(coveringId).catch(() => undefined)
    if (found) return found
    if (failure !== undefined || !result) throw new SchedulerError(`warmup run ${runId} failed: ${failure === undefined ? 'its job is gone' : errorMessage(failure)}`, { runId, jobId })
    return recordFromResult(result, job)
  }

  async #queueEvents(): Promise<QueueEvents> {
    if (!this.#events) {
      const { queueName, prefix, redisUrl } = this.#options
      this.#events = new QueueEvents(queueName, { connection: { url: redisUrl, maxRetriesPerRequest: null }, prefix })
      this.#events.on('error', (error) => this.#link.noteError('queue events', error))
    }
    await this.#events.waitUntilReady()
    return this.#events
  }

  /** Redis answered (first time or again): register the jobs (Redis may have come back empty) and run the worker. */
  #whenUp(reconnected: boolean): void {
    if (this.#closed || (!this.#scheduling && !this.#joined)) return
    if (!reconnected && this.#awaitingFirst > 0) return
    void this.#activate()
  }

  /** One activation at a time; a failure is logged and retried on the next reconnect. */
  #activate(): Promise<void> {
    this.#activation = this.#activation.then(async () => {
      if (this.#closed || !this.#link.up) return
      const { logger, instanceId, queueName, prefix } = this.#options
      try {
        // A joining process (the CLI) registers the jobs too, so `scheduler status` shows them with no server up.
        if (this.#scheduling || this.#joined) await this.#sync(this.#jobs)
        // One warmup at a time across every instance, whatever enqueued it.
        await this.queue.setGlobalConcurrency(1)
        const wantsWorker = this.#joined || (this.#scheduling && this.#options.runWorker !== false)
        if (wantsWorker && !this.#worker) this.#worker = this.#createWorker()
        if (!this.#started && this.#scheduling) {
          this.#started = true
          logger.info({ backend: this.backend, queue: queueName, prefix, instance: instanceId, timeZone: this.#timeZone, jobs: this.#jobs.length, worker: Boolean(this.#worker) }, `scheduler started (bullmq, queue ${prefix}:${queueName}, ${this.#timeZone}) with ${this.#jobs.length} jobs`)
        } else if (this.#scheduling) {
          logger.info({ backend: this.backend, jobs: this.#jobs.length }, `scheduler re-registered its ${this.#jobs.length} jobs after Redis reconnected`)
        }
      } catch (error) {
        logger.warn({ err: error }, `scheduler could not register its jobs (${errorMessage(error)}); it tries again when Redis reconnects`)
      }
    })
    return this.#activation
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
    worker.on('error', (error) => this.#link.noteError('worker', error))
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
      ...(data.clearFirst ? { clearFirst: true } : {}),
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
