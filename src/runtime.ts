// The composition root: opens the database and cache, wires the school services to the
// generic warmup engine, and closes it all again in reverse order. The server, the CLI and
// the tests all start here, so they run exactly the same wiring.
import type { Config } from './config.ts'
import { ResponseCache } from './cache/response-cache.ts'
import { openDatabase } from './db/connect.ts'
import type { Database } from './db/database.ts'
import type { Logger } from './logger.ts'
import { Metrics } from './operations/metrics.ts'
import { importApplicationWindows, importBanding, type OverlayImportSummary } from './schools/import/overlay-import.ts'
import { bundledSourceFiles, importSchools, type SchoolImportSummary, type SchoolSourceFiles } from './schools/import/schools-import.ts'
import { openLearning, type Learning } from './schools/learning.ts'
import { SchoolReads, schoolPolicies } from './schools/reads.ts'
import { SchoolRepository } from './schools/repository.ts'
import { loadWarmListConfig, registerSchoolWarmTargets } from './schools/warm-targets.ts'
import { BullmqScheduler } from './warmup/bullmq-scheduler.ts'
import { WarmupHistory } from './warmup/history.ts'
import { defaultInstanceId } from './warmup/instance-id.ts'
import { LocalScheduler } from './warmup/local-scheduler.ts'
import { RunTracker } from './warmup/run-tracker.ts'
import { WarmupRunKeys } from './warmup/run-keys.ts'
import { WarmupRunner } from './warmup/runner.ts'
import type { SchedulerCommonOptions, StartRun, WarmupScheduler } from './warmup/scheduler.ts'
import { WarmTargetRegistry } from './warmup/targets.ts'

export interface RuntimeOptions {
  config: Config
  logger: Logger
  /**
   * Whether this process runs scheduled warmups (the server, the cluster primary). Without it a
   * BullMQ scheduler is still built, worker-less, so manual warmups can be queued from here.
   */
  schedule?: boolean
  instanceId?: string
  /**
   * 'server' (default) and 'primary' are long-lived and, at start, mark their own unfinished runs
   * of a previous life as interrupted. A 'cli' process gets a per-process id and marks nothing:
   * it must never touch the rows of a server running beside it.
   */
  role?: 'server' | 'primary' | 'cli'
  /** Collect node's default metrics (off in tests, which build many runtimes in one process). */
  defaultMetrics?: boolean
}

export interface Runtime {
  config: Config
  logger: Logger
  db: Database
  cache: ResponseCache
  metrics: Metrics
  repository: SchoolRepository
  reads: SchoolReads
  registry: WarmTargetRegistry
  runner: WarmupRunner
  history: WarmupHistory
  /** Every key of the newest runs, for `warmup --verbose` in another process. */
  runKeys: WarmupRunKeys
  /** Request statistics and the learned warm group (src/schools/learning.ts). */
  learning: Learning
  /** Built when SCHEDULER is not 'off'; started only by the process that schedules (see server.ts). */
  scheduler: WarmupScheduler | undefined
  instanceId: string
  /** Runs this process finished lately, and listeners for runs it may be handed (run-tracker.ts). */
  runs: RunTracker
  /** Starts (or joins) a run in this process; what schedulers and requestWarmup use without a queue. */
  startRun: StartRun
  importSchools(files?: SchoolSourceFiles): Promise<SchoolImportSummary>
  importBanding(file: string): Promise<OverlayImportSummary>
  importApplicationWindows(file: string): Promise<OverlayImportSummary>
  close(): Promise<void>
}

export async function openRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { config, logger } = options
  const role = options.role ?? 'server'
  const instanceId = options.instanceId ?? instanceIdFor(role, config)
  const metrics = new Metrics({ defaultMetrics: options.defaultMetrics ?? true })
  const db = await openDatabase(config)
  db.counter.onQuery((durationMs, failed) => metrics.dbQuery(durationMs, failed))
  const repository = new SchoolRepository(db)

  if (config.autoImport) {
    const [row] = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM schools')
    if ((row?.count ?? 0) === 0) {
      logger.info('empty database: importing the bundled school data')
      const summary = await importSchools(db, bundledSourceFiles(config.sourceDir))
      logger.info({ rows: summary.rows, profiles: { matched: summary.profiles.matched, unmatched: summary.profiles.unmatched.length } }, 'bundled school data imported')
    }
  }

  const cache = new ResponseCache({
    prefix: config.redisPrefix,
    redisUrl: config.redisUrl,
    l1: config.cacheL1,
    l1MaxItems: config.cacheL1MaxItems,
    outageL1Seconds: config.cacheOutageL1Seconds,
    logger,
    l1MaxBytes: config.cacheL1MaxBytes,
    localOnlyMaxItems: config.cacheLocalMaxItems,
    localOnlyMaxBytes: config.cacheLocalMaxBytes,
    probationSeconds: config.cacheProbationSeconds,
    admission: { minHits: config.cacheAdmitMinHits, window: config.cacheAdmitWindow, maxKeys: config.cacheAdmitMaxKeys, maxBytes: config.cacheAdmitMaxBytes },
    loadLimits: { concurrency: config.loadConcurrency, maxQueue: config.loadQueue, maxWaitMs: config.loadQueueWaitMs },
    keyCountIntervalSeconds: config.cacheKeyCountSeconds,
  })
  cache.onEvent((policy, state) => metrics.cacheRequest(policy, state))
  const reads = new SchoolReads(repository, cache, schoolPolicies(config.cache), { errorTtlSeconds: config.cacheTtlErrors })

  const registry = new WarmTargetRegistry()
  registerSchoolWarmTargets(registry, reads, repository, {
    lists: loadWarmListConfig(),
    derivedLists: { maxFilters: config.warmListMaxFilters, pages: config.warmListPages },
    onSkipped: (level, name, reason) => logger.info({ schoolLevel: level, target: name, reason }, `warmup skips ${level} query '${name}': ${reason}`),
  })
  // After the school groups: the learned group sees (and does not repeat) their keys.
  const learning = openLearning({ config, db, registry, reads, repository, metrics, logger, count: role !== 'cli' })
  const history = new WarmupHistory(db)
  const runKeys = new WarmupRunKeys(db)
  if (role !== 'cli') await history.markInterrupted(instanceId)
  const runs = new RunTracker(history)
  const runner = new WarmupRunner({
    registry,
    logger,
    instanceId,
    history,
    keyLog: runKeys,
    concurrency: config.warmupConcurrency,
    // Unchanged values are renewed, not loaded (docs/generations.md).
    prepare: () => reads.learnGeneration(),
    clear: async () => {
      await cache.expireAll()
    },
    onRunFinished: (summary) => {
      metrics.warmupRun(summary)
      runs.recordFinished(summary)
      learning.warmupFinished()
    },
  })
  const startRun: StartRun = (request) => {
    const { run, alreadyRunning } = runner.start(request)
    return { runId: run.runId, alreadyRunning, done: run.done }
  }

  let scheduler: WarmupScheduler | undefined
  if (config.scheduler !== 'off') {
    const common: SchedulerCommonOptions = {
      jobs: config.schedule,
      timeZone: config.timeZone,
      logger,
      instanceId,
      history,
      runs,
      startRun,
      validateGroups: (groups: string[]) => registry.resolveGroups(groups),
      onTick: (tick) => {
        const listener = runs.follower(tick.runId)
        return runner.run({ groups: tick.groups, trigger: tick.trigger, ...(tick.runId ? { runId: tick.runId } : {}), ...(tick.clearFirst ? { clearFirst: true } : {}), ...(listener ? { listener } : {}) })
      },
    }
    scheduler = SCHEDULER_BACKENDS[config.scheduler](common, config, options.schedule ?? false)
  }

  // An import changes what every cached document says. Expiring (not deleting) keeps the old
  // values servable while the warmup replaces them, so there is no cold window; the bus tells
  // the other instances' L1 to do the same.
  const afterImport = async <T extends { unchanged: boolean }>(summary: T): Promise<T> => {
    if (summary.unchanged) return summary
    await cache.expireAll()
    if (role === 'cli' && !config.redisUrl) {
      // This process's memory cache dies with it: the server warms on its next start.
      logger.info('import: the embedded cache lives in the server process; it warms when the server starts')
      return summary
    }
    await runner.run({ groups: ['all'], trigger: 'import' })
    return summary
  }

  return {
    config, logger, db, cache, metrics, repository, reads, registry, runner, history, runKeys, learning, scheduler, instanceId,
    runs,
    startRun,
    importSchools: async (files = bundledSourceFiles(config.sourceDir)) => afterImport(await importSchools(db, files)),
    importBanding: async (file) => afterImport(await importBanding(db, file)),
    importApplicationWindows: async (file) => afterImport(await importApplicationWindows(db, file)),
    close: async () => {
      await runner.close()
      await scheduler?.close()
      await learning.close()
      await cache.close()
      await db.close()
    },
  }
}

/** One line per scheduler backend (its file implements WarmupScheduler); SCHEDULER names the key. */
const SCHEDULER_BACKENDS: Record<Exclude<Config['scheduler'], 'off'>, (common: SchedulerCommonOptions, config: Config, runsSchedule: boolean) => WarmupScheduler> = {
  local: (common) => new LocalScheduler(common),
  bullmq: (common, config, runsSchedule) => new BullmqScheduler({
    ...common,
    redisUrl: config.redisUrl!,
    prefix: `${config.redisPrefix}:bull`,
    runWorker: runsSchedule,
    lockDurationMs: config.schedulerLockDurationMs,
    stalledIntervalMs: config.schedulerStalledIntervalMs,
  }),
}

function instanceIdFor(role: 'server' | 'primary' | 'cli', config: Config): string {
  if (role === 'cli') return `${defaultInstanceId('cli')}-${process.pid}`
  const slot = role === 'primary' ? 'primary' : config.workerSlot
  return config.instanceId ? `${config.instanceId}#${slot}` : defaultInstanceId(slot)
}
