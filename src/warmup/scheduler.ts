// What both schedulers (LocalScheduler on croner, BullmqScheduler on BullMQ job schedulers)
// promise, and the job validation they share, so a bad SCHEDULE fails the same way on both.
import { Cron } from 'croner'
import type { ScheduleJob } from '../config.ts'
import { SchedulerError } from '../errors.ts'
import type { WarmupHistory } from './history.ts'
import { errorMessage, type WarmupLogger } from './logger.ts'
import { newRunId, type AcceptedRun, type RunTracker } from './run-tracker.ts'
import type { WarmupListener, WarmupRunRecord, WarmupSummary } from './summary.ts'

export type { ScheduleJob }

/** A backend is one file implementing WarmupScheduler plus its name here and a line in runtime.ts. */
export type SchedulerBackendName = 'local' | 'bullmq'

/** One firing of a job (or, on BullMQ, a manual run pulled from the queue). */
export interface SchedulerTick {
  /** The schedule job's name; undefined for a manual run. */
  job: string | undefined
  groups: string[]
  /** 'schedule:<job>' for ticks; the enqueuer's trigger ('admin', 'cli') for manual runs. */
  trigger: string
  /** Set for manual runs enqueued with a run id, so the admin API knows it before the run starts. */
  runId?: string
  /** When the tick was due (ISO). */
  scheduledAt: string
  /** 1 on the first try; higher on a BullMQ retry. */
  attempt: number
  /** Expire every cached value first, as part of the run (clear-and-warmup). */
  clearFirst?: boolean
}

/** A manual warmup (admin API, CLI), as handed to WarmupScheduler.enqueue. */
export interface ManualRunRequest {
  /** Group names or 'all'; validated before anything is queued or started. */
  groups: string[]
  trigger: string
  clearFirst?: boolean
  /** Progress of the run, should this process be the one running it. */
  listener?: WarmupListener
}

/** Starts (or joins) a run in this process: the app wires it to runner.start. */
export type StartRun = (request: ManualRunRequest & { runId?: string }) => AcceptedRun

/** The app wires this to runner.run({ groups, trigger, runId }). */
export type TickHandler = (tick: SchedulerTick) => Promise<WarmupSummary>

export interface LastTick {
  /** When the tick finished (ISO). */
  finishedAt: string
  /** The instance that ran it. */
  instance: string | null
  runId: string | null
  status: string
  keys?: number
  warmed?: number
  failed?: number
  durationMs?: number
  error?: string
}

export interface ScheduledJobStatus {
  name: string
  cron: string
  groups: string[]
  timeZone: string
  /** Next firing (ISO), or null when not registered/running. */
  nextRun: string | null
  lastRun: LastTick | null
}

export interface SchedulerStatus {
  backend: SchedulerBackendName
  /** Whether this instance fires (local) or processes (BullMQ) ticks. */
  running: boolean
  instanceId: string
  timeZone: string
  jobs: ScheduledJobStatus[]
}

export interface WarmupScheduler {
  readonly backend: SchedulerBackendName
  /** status() describes the whole deployment from any process (the schedules live in shared storage). */
  readonly sharedStatus: boolean
  /** Registers the jobs (idempotent) and begins running ticks. */
  start(): Promise<void>
  /** Replaces the job set: new jobs added, changed ones updated, missing ones removed. Validates first. */
  register(jobs: readonly ScheduleJob[]): Promise<void>
  /** This instance stops running ticks; start() resumes. */
  stop(): Promise<void>
  status(): Promise<SchedulerStatus>
  /** stop() plus releasing every resource (timers, connections). */
  close(): Promise<void>
  /**
   * Starts a manual run wherever this backend runs them (in process, or queued for whichever
   * instance takes it), or joins the one already queued or running that covers it. Answers in
   * bounded time: a backend whose shared queue is unreachable runs it in this process.
   */
  enqueue(request: ManualRunRequest): Promise<AcceptedRun>
  /**
   * This process takes part in running queued manual runs without running the schedule (a
   * CLI that queued a run works it itself when no server is up). A no-op for in-process backends.
   */
  join(): Promise<void>
}

export interface SchedulerCommonOptions {
  jobs: readonly ScheduleJob[]
  /** IANA zone the cron expressions are read in (config.timeZone). */
  timeZone?: string
  onTick: TickHandler
  logger: WarmupLogger
  instanceId: string
  /** Checks a job's groups exist, e.g. (groups) => registry.resolveGroups(groups). Throwing rejects the job. */
  validateGroups?: (groups: string[]) => unknown
  /** Fills lastRun from the run history when this process has not seen the job run yet. */
  history?: Pick<WarmupHistory, 'lastForJob'>
  /** Runs a manual request in this process; without it, onTick is used (no joining, no listener). */
  startRun?: StartRun
  /** Where finished runs and followers are kept (see run-tracker.ts). */
  runs?: RunTracker
}

/** The in-process way to run a manual request: options.startRun, else a plain onTick. */
export function startInProcess(options: Pick<SchedulerCommonOptions, 'startRun' | 'onTick'>, request: ManualRunRequest & { runId?: string }): AcceptedRun {
  if (options.startRun) return options.startRun(request)
  const runId = request.runId ?? newRunId()
  const done = options.onTick({ job: undefined, groups: request.groups, trigger: request.trigger, runId, scheduledAt: new Date().toISOString(), attempt: 1, ...(request.clearFirst ? { clearFirst: true } : {}) })
  return { runId, alreadyRunning: false, done }
}

export const DEFAULT_TIME_ZONE = 'Asia/Hong_Kong'
const JOB_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/i

export function validateTimeZone(timeZone: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone })
  } catch {
    throw new SchedulerError(`Scheduler time zone '${timeZone}' is not a known IANA time zone`, { timeZone })
  }
  return timeZone
}

/** The next firing of a cron expression after `from`, read in `timeZone`; croner does the parsing. */
export function nextRunOf(cron: string, timeZone: string, from: Date = new Date()): Date | null {
  const parsed = new Cron(cron, { timezone: timeZone, paused: true })
  try {
    return parsed.nextRun(from)
  } finally {
    parsed.stop()
  }
}

/** Rejects the whole set on the first bad job, with a SchedulerError naming it. */
export function validateJobs(jobs: readonly ScheduleJob[], timeZone: string, validateGroups?: (groups: string[]) => unknown): ScheduleJob[] {
  const names = new Set<string>()
  return jobs.map((job) => {
    if (!JOB_NAME.test(job.name)) throw new SchedulerError(`Schedule job name '${job.name}' must be letters, digits and '-'`, { job: job.name })
    if (names.has(job.name)) throw new SchedulerError(`Schedule job '${job.name}' is defined twice`, { job: job.name })
    names.add(job.name)
    let next: Date | null
    try {
      next = nextRunOf(job.cron, timeZone)
    } catch (error) {
      throw new SchedulerError(`Schedule job '${job.name}' has an invalid cron expression '${job.cron}': ${errorMessage(error)}`, { job: job.name, cron: job.cron }, { cause: error })
    }
    if (next === null) throw new SchedulerError(`Schedule job '${job.name}': cron expression '${job.cron}' never fires`, { job: job.name, cron: job.cron })
    if (job.groups.length === 0) throw new SchedulerError(`Schedule job '${job.name}' names no groups`, { job: job.name })
    try {
      validateGroups?.([...job.groups])
    } catch (error) {
      throw new SchedulerError(`Schedule job '${job.name}': ${errorMessage(error)}`, { job: job.name, groups: job.groups }, { cause: error })
    }
    return { name: job.name, cron: job.cron.trim(), groups: [...job.groups] }
  })
}

export function lastTickFromSummary(summary: WarmupSummary): LastTick {
  return {
    finishedAt: summary.finishedAt,
    instance: summary.instance,
    runId: summary.runId,
    status: summary.status,
    keys: summary.keys,
    warmed: summary.warmed,
    failed: summary.failed,
    durationMs: summary.durationMs,
  }
}

/**
 * The last run of `job` from the run history, for status(). Status is for humans: a database
 * blip is logged and reported as "no last run", never turned into an error page.
 */
export async function lastTickFromHistory(history: Pick<WarmupHistory, 'lastForJob'> | undefined, logger: WarmupLogger, job: string): Promise<LastTick | null> {
  try {
    const record = await history?.lastForJob(job)
    return record ? lastTickFromRecord(record) : null
  } catch (error) {
    logger.warn({ job, err: error }, `scheduler status: could not read the last run of ${job}: ${errorMessage(error)}`)
    return null
  }
}

export function lastTickFromRecord(record: WarmupRunRecord): LastTick {
  return {
    finishedAt: record.finishedAt ?? record.startedAt,
    instance: record.instance,
    runId: record.runId,
    status: record.status,
    keys: record.keys,
    warmed: record.warmed,
    failed: record.failed,
    ...(record.durationMs !== null ? { durationMs: record.durationMs } : {}),
  }
}
