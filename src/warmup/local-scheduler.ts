// The scheduler for a single process: croner timers in this process, cron read in the
// configured time zone (Hong Kong has no DST, but croner handles zones that do). With
// several processes each would fire every job; that is what BullmqScheduler is for.
import { Cron } from 'croner'
import type { ScheduleJob } from '../config.ts'
import { errorMessage } from './logger.ts'
import type { AcceptedRun } from './run-tracker.ts'
import {
  DEFAULT_TIME_ZONE, lastTickFromHistory, lastTickFromSummary, startInProcess, validateJobs, validateTimeZone,
  type LastTick, type ManualRunRequest, type SchedulerCommonOptions, type SchedulerStatus, type ScheduledJobStatus, type WarmupScheduler,
} from './scheduler.ts'

export type LocalSchedulerOptions = SchedulerCommonOptions

export class LocalScheduler implements WarmupScheduler {
  readonly backend = 'local' as const
  readonly sharedStatus = false
  readonly #options: LocalSchedulerOptions
  readonly #timeZone: string
  #jobs: ScheduleJob[]
  readonly #timers = new Map<string, { job: ScheduleJob; cron: Cron }>()
  readonly #lastTicks = new Map<string, LastTick>()
  #running = false

  /** Validates the jobs and the time zone (SchedulerError naming the bad job); starts nothing. */
  constructor(options: LocalSchedulerOptions) {
    this.#options = options
    this.#timeZone = validateTimeZone(options.timeZone ?? DEFAULT_TIME_ZONE)
    this.#jobs = validateJobs(options.jobs, this.#timeZone, options.validateGroups)
  }

  async start(): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#options.logger.info({ backend: this.backend, timeZone: this.#timeZone, jobs: this.#jobs.length, instance: this.#options.instanceId }, `scheduler started (local, ${this.#timeZone}) with ${this.#jobs.length} jobs`)
    for (const job of this.#jobs) this.#schedule(job)
  }

  async register(jobs: readonly ScheduleJob[]): Promise<void> {
    const validated = validateJobs(jobs, this.#timeZone, this.#options.validateGroups)
    this.#jobs = validated
    if (!this.#running) return
    const wanted = new Map(validated.map((job) => [job.name, job]))
    for (const [name, { job, cron }] of this.#timers) {
      const replacement = wanted.get(name)
      if (replacement && sameJob(job, replacement)) continue
      cron.stop()
      this.#timers.delete(name)
      if (!replacement) this.#options.logger.info({ job: name }, `scheduler removed job ${name}`)
    }
    // Only new or changed jobs get a timer: re-registering the same set changes nothing.
    for (const job of validated) if (!this.#timers.has(job.name)) this.#schedule(job)
  }

  async stop(): Promise<void> {
    if (!this.#running) return
    this.#running = false
    for (const { cron } of this.#timers.values()) cron.stop()
    this.#timers.clear()
    this.#options.logger.info({ backend: this.backend }, 'scheduler stopped (local)')
  }

  /**
   * Stops the timers. A tick already running is not awaited: it is a warmup run, which the
   * runner's own close() cuts short; waiting here could hold shutdown for minutes.
   */
  async close(): Promise<void> {
    await this.stop()
  }

  /** Manual runs run in this process; the runner joins or queues behind a run already going. */
  async enqueue(request: ManualRunRequest): Promise<AcceptedRun> {
    this.#options.validateGroups?.(request.groups)
    return startInProcess(this.#options, request)
  }

  /** Nothing to join: runs happen in the process that asks. */
  async join(): Promise<void> {}

  async status(): Promise<SchedulerStatus> {
    const jobs: ScheduledJobStatus[] = await Promise.all(this.#jobs.map(async (job) => ({
      name: job.name,
      cron: job.cron,
      groups: job.groups,
      timeZone: this.#timeZone,
      nextRun: this.#timers.get(job.name)?.cron.nextRun()?.toISOString() ?? null,
      lastRun: await this.#lastTick(job.name),
    })))
    return { backend: this.backend, running: this.#running, instanceId: this.#options.instanceId, timeZone: this.#timeZone, jobs }
  }

  async #lastTick(job: string): Promise<LastTick | null> {
    const seen = this.#lastTicks.get(job)
    if (seen) return seen
    return lastTickFromHistory(this.#options.history, this.#options.logger, job)
  }

  #schedule(job: ScheduleJob): void {
    const { logger } = this.#options
    const cron: Cron = new Cron(job.cron, {
      timezone: this.#timeZone,
      // A tick still running when the next is due (a slow 2-hourly run) is skipped, not stacked.
      protect: () => logger.warn({ job: job.name }, `scheduler skipped a tick of ${job.name}: the previous one is still running`),
    }, () => this.#tick(job, cron))
    this.#timers.set(job.name, { job, cron })
    logger.info({ job: job.name, cron: job.cron, groups: job.groups, timeZone: this.#timeZone, nextRun: cron.nextRun()?.toISOString() }, `scheduler registered job ${job.name} (${job.cron}, ${this.#timeZone})`)
  }

  async #tick(job: ScheduleJob, cron: Cron): Promise<void> {
    const { logger, onTick, instanceId } = this.#options
    const scheduledAt = (cron.currentRun() ?? new Date()).toISOString()
    logger.info({ job: job.name, groups: job.groups, scheduledAt }, `scheduler tick: ${job.name}`)
    try {
      const summary = await onTick({ job: job.name, groups: job.groups, trigger: `schedule:${job.name}`, scheduledAt, attempt: 1 })
      this.#lastTicks.set(job.name, lastTickFromSummary(summary))
    } catch (error) {
      // Never let a tick's failure escape into croner: the timer must keep going.
      this.#lastTicks.set(job.name, { finishedAt: new Date().toISOString(), instance: instanceId, runId: null, status: 'error', error: errorMessage(error) })
      logger.error({ job: job.name, err: error }, `scheduler tick ${job.name} failed: ${errorMessage(error)}`)
    }
  }
}

function sameJob(a: ScheduleJob, b: ScheduleJob): boolean {
  return a.cron === b.cron && a.groups.join('+') === b.groups.join('+')
}
