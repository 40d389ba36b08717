// The composition root: opens the database and cache, wires the school services to the
// generic warmup engine, and closes it all again in reverse order. The server, the CLI and
// the tests all start here, so they run exactly the same wiring. openRuntime reads as the
// order of the build; each step is a small builder below it, handed only what it uses.
import type { Config } from './config.ts'
import { ResponseCache } from './cache/response-cache.ts'
import { openDatabase } from './db/connect.ts'
import type { Database } from './db/database.ts'
import type { Logger } from './logger.ts'
import { BufferGarbageWatch } from './operations/heap-release.ts'
import { Metrics } from './operations/metrics.ts'
import { importApplicationWindows, importBanding, type OverlayImportSummary } from './schools/import/overlay-import.ts'
import { bundledSourceFiles, importSchools, type SchoolImportSummary, type SchoolSourceFiles } from './schools/import/schools-import.ts'
import { openLearning, type Learning } from './schools/learning.ts'
import { SchoolReads, schoolPolicies } from './schools/reads.ts'
import { SchoolRepository } from './schools/repository.ts'
import { loadWarmListConfig, registerSchoolWarmTargets } from './schools/warm-targets.ts'
import { WarmupHistory } from './warmup/history.ts'
import { LoopPressure } from './warmup/key-pool.ts'
import { defaultInstanceId } from './warmup/instance-id.ts'
import { LocalScheduler } from './warmup/local-scheduler.ts'
import { deploymentBoardPrefix, RedisProgressBoard } from './warmup/progress-board.ts'
import { RunProgressTracker } from './warmup/run-progress.ts'
import { RunTracker } from './warmup/run-tracker.ts'
import { WarmupRunKeys } from './warmup/run-keys.ts'
import { WarmupRunner } from './warmup/runner.ts'
import type { SchedulerCommonOptions, StartRun, WarmupScheduler } from './warmup/scheduler.ts'
import { WarmTargetRegistry } from './warmup/targets.ts'

export type Role = 'server' | 'primary' | 'cli'

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
  role?: Role
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
  /** Per-group progress of the runs, shared through Redis with the processes that do not run them (the dashboard). */
  runProgress: RunProgressTracker
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

  const db = await openStore(config, logger, metrics)
  const cache = openCache(config, logger, metrics)
  const schools = buildSchoolServices(config, logger, db, cache)
  // After the school groups: the learned group sees (and does not repeat) their keys.
  const learning = openLearning({ config, db, registry: schools.registry, reads: schools.reads, repository: schools.repository, metrics, logger, count: role !== 'cli' })
  const engine = await buildWarmupEngine({ config, logger, db, cache, metrics, learning, registry: schools.registry, instanceId, role, prepareRun: () => schools.reads.learnGeneration() })
  const scheduler = await buildScheduler(config, options.schedule ?? false, { logger, instanceId, registry: schools.registry, ...engine })
  const rewarm = rewarmAfterImport({ config, logger, cache, runner: engine.runner, role })

  return {
    config, logger, db, cache, metrics, ...schools, learning, ...engine, scheduler, instanceId,
    importSchools: async (files = bundledSourceFiles(config.sourceDir)) => rewarm(await importSchools(db, files)),
    importBanding: async (file) => rewarm(await importBanding(db, file)),
    importApplicationWindows: async (file) => rewarm(await importApplicationWindows(db, file)),
    close: async () => {
      await engine.runner.close()
      await engine.runProgress.close()
      await scheduler?.close()
      await learning.close()
      await cache.close()
      await db.close()
    },
  }
}

/** The database, migrated, with its queries counted in the metrics; the bundled data loaded into an empty one (AUTO_IMPORT). */
async function openStore(config: Config, logger: Logger, metrics: Metrics): Promise<Database> {
  const db = await openDatabase(config)
  db.counter.onQuery((durationMs, failed) => metrics.dbQuery(durationMs, failed))
  if (!config.autoImport) return db
  const [row] = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM schools')
  if ((row?.count ?? 0) === 0) {
    logger.info('empty database: importing the bundled school data')
    const summary = await importSchools(db, bundledSourceFiles(config.sourceDir))
    logger.info({ rows: summary.rows, profiles: { matched: summary.profiles.matched, unmatched: summary.profiles.unmatched.length } }, 'bundled school data imported')
  }
  return db
}

/** The response cache (memory L1, Redis L2 when REDIS_URL is set), its answers counted in the metrics. */
function openCache(config: Config, logger: Logger, metrics: Metrics): ResponseCache {
  const cache = new ResponseCache({
    prefix: config.redisPrefix,
    redisUrl: config.redisUrl,
    l1: config.cacheL1,
    l1MaxItems: config.cacheL1MaxItems,
    outageL1Seconds: config.cacheOutageL1Seconds,
    redisCommandTimeoutMs: config.redisCommandTimeoutMs,
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
  return cache
}

interface SchoolServices {
  repository: SchoolRepository
  reads: SchoolReads
  registry: WarmTargetRegistry
}

/** The school reads through the cache, and the warm groups and targets that keep them warm. */
function buildSchoolServices(config: Config, logger: Logger, db: Database, cache: ResponseCache): SchoolServices {
  const repository = new SchoolRepository(db)
  const reads = new SchoolReads(repository, cache, schoolPolicies(config.cache), { errorTtlSeconds: config.cacheTtlErrors })
  const registry = new WarmTargetRegistry()
  registerSchoolWarmTargets(registry, reads, repository, {
    lists: loadWarmListConfig(),
    derivedLists: { maxFilters: config.warmListMaxFilters, pages: config.warmListPages },
    onSkipped: (level, name, reason) => logger.info({ schoolLevel: level, target: name, reason }, `warmup skips ${level} query '${name}': ${reason}`),
  })
  return { repository, reads, registry }
}

interface WarmupEngine {
  runner: WarmupRunner
  history: WarmupHistory
  runKeys: WarmupRunKeys
  runs: RunTracker
  runProgress: RunProgressTracker
  startRun: StartRun
}

interface WarmupEngineDependencies {
  config: Config
  logger: Logger
  db: Database
  cache: ResponseCache
  metrics: Metrics
  learning: Learning
  registry: WarmTargetRegistry
  instanceId: string
  role: Role
  /** Run first in every run: the school reads learn the data generation, so unchanged values are renewed (docs/generations.md). */
  prepareRun: () => Promise<void>
}

/**
 * The generic warmup engine over the registry: run history and per-key log, the run tracker,
 * the runner, whose finished runs feed the metrics, the tracker and the learned warm set, and
 * the per-group progress of every run (published for the processes that do not run it).
 */
async function buildWarmupEngine(deps: WarmupEngineDependencies): Promise<WarmupEngine> {
  const { config, cache, metrics, learning } = deps
  const history = new WarmupHistory(deps.db)
  const runKeys = new WarmupRunKeys(deps.db)
  if (deps.role !== 'cli') await history.markInterrupted(deps.instanceId)
  const runs = new RunTracker(history)
  // Collects the dead Buffers a run leaves in the old generation while it runs, and after it (heap-release.ts).
  const bufferWatch = new BufferGarbageWatch()
  const runProgress = new RunProgressTracker({ board: config.redisUrl ? new RedisProgressBoard({ url: config.redisUrl, prefix: deploymentBoardPrefix(config.redisPrefix) }) : undefined, logger: deps.logger })
  const runner = new WarmupRunner({
    registry: deps.registry,
    logger: deps.logger,
    instanceId: deps.instanceId,
    history,
    keyLog: runKeys,
    concurrency: config.warmupConcurrency,
    // Paced by the requests this process serves (key-pool.ts): a saturated server keeps most of its loop.
    pressure: new LoopPressure({ demand: () => cache.readCount }),
    prepare: deps.prepareRun,
    clear: async () => {
      await cache.expireAll()
    },
    onRunFinished: (summary) => {
      metrics.warmupRun(summary)
      runs.recordFinished(summary)
      runProgress.finish(summary)
      learning.warmupFinished()
      bufferWatch.finish()
    },
  })
  runner.listenAll(runProgress)
  runner.listenAll({ onPlan: () => bufferWatch.start() })
  const startRun: StartRun = (request) => {
    const { run, alreadyRunning } = runner.start(request)
    return { runId: run.runId, alreadyRunning, done: run.done }
  }
  return { runner, history, runKeys, runs, runProgress, startRun }
}

/** The scheduler SCHEDULER names (undefined when 'off'); it runs schedules only where `runsSchedule`. */
async function buildScheduler(config: Config, runsSchedule: boolean, deps: WarmupEngine & { logger: Logger; instanceId: string; registry: WarmTargetRegistry }): Promise<WarmupScheduler | undefined> {
  if (config.scheduler === 'off') return undefined
  const { runner, runs } = deps
  const common: SchedulerCommonOptions = {
    jobs: config.schedule,
    timeZone: config.timeZone,
    logger: deps.logger,
    instanceId: deps.instanceId,
    history: deps.history,
    runs,
    startRun: deps.startRun,
    validateGroups: (groups: string[]) => deps.registry.resolveGroups(groups),
    onTick: (tick) => {
      const listener = runs.follower(tick.runId)
      return runner.run({ groups: tick.groups, trigger: tick.trigger, ...(tick.runId ? { runId: tick.runId } : {}), ...(tick.clearFirst ? { clearFirst: true } : {}), ...(listener ? { listener } : {}) })
    },
  }
  return SCHEDULER_BACKENDS[config.scheduler](common, config, runsSchedule)
}

/**
 * One line per scheduler backend (its file implements WarmupScheduler); SCHEDULER names the key.
 * BullMQ is loaded only when chosen: a process without it saves its module's memory.
 */
const SCHEDULER_BACKENDS: Record<Exclude<Config['scheduler'], 'off'>, (common: SchedulerCommonOptions, config: Config, runsSchedule: boolean) => Promise<WarmupScheduler>> = {
  local: async (common) => new LocalScheduler(common),
  bullmq: async (common, config, runsSchedule) => new (await import('./warmup/bullmq-scheduler.ts')).BullmqScheduler({
    ...common,
    redisUrl: config.redisUrl!,
    prefix: `${config.redisPrefix}:bull`,
    runWorker: runsSchedule,
    lockDurationMs: config.schedulerLockDurationMs,
    stalledIntervalMs: config.schedulerStalledIntervalMs,
  }),
}

/**
 * What follows an import. An import changes what every cached document says. Expiring (not
 * deleting) keeps the old values servable while the warmup replaces them, so there is no cold
 * window; the bus tells the other instances' L1 to do the same.
 */
function rewarmAfterImport(deps: { config: Config; logger: Logger; cache: ResponseCache; runner: WarmupRunner; role: Role }): <T extends { unchanged: boolean }>(summary: T) => Promise<T> {
  return async (summary) => {
    if (summary.unchanged) return summary
    await deps.cache.expireAll()
    if (deps.role === 'cli' && !deps.config.redisUrl) {
      // This process's memory cache dies with it: the server warms on its next start.
      deps.logger.info('import: the embedded cache lives in the server process; it warms when the server starts')
      return summary
    }
    await deps.runner.run({ groups: ['all'], trigger: 'import' })
    return summary
  }
}

function instanceIdFor(role: Role, config: Config): string {
  if (role === 'cli') return `${defaultInstanceId('cli')}-${process.pid}`
  const slot = role === 'primary' ? 'primary' : config.workerSlot
  return config.instanceId ? `${config.instanceId}#${slot}` : defaultInstanceId(slot)
}
