// Wires request statistics and the learned warm set into a runtime: the per-instance sketch the
// routes record into, the minute flush into the shared tables, the `learned` warm group, the
// warm set the statistics check keys against, and the two metrics.
import type { Config } from '../config.ts'
import type { Database } from '../db/database.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../operations/metrics.ts'
import { RequestStatistics } from '../traffic/request-stats.ts'
import { StatsFlusher } from '../traffic/stats-flusher.ts'
import { RequestStatsStore } from '../traffic/stats-store.ts'
import type { WarmTargetRegistry } from '../warmup/targets.ts'
import { REQUEST_CLASSES } from './learned-keys.ts'
import { LearnedWarmSet, loadLearnedControl, type LearnedControl } from './learned-targets.ts'
import type { SchoolReads } from './reads.ts'
import type { SchoolRepository } from './repository.ts'
import type { ReadRecorder } from './routes.ts'

/** How often an instance re-reads the warm set (other instances' warmups change it too). */
const WARM_SET_REFRESH_MS = 10 * 60_000

export interface Learning {
  /** Undefined when REQUEST_STATS=false. */
  stats: RequestStatistics | undefined
  store: RequestStatsStore
  learned: LearnedWarmSet
  recordRead: ReadRecorder | undefined
  /** Writes this instance's pending counts now (the coverage report calls it first). */
  flush(): Promise<void>
  /** Re-reads the warm set now (the bench, before measuring). */
  refreshWarmSet(): Promise<void>
  /** A warmup finished here: the warm set is re-read at the next flush, off the request path. */
  warmupFinished(): void
  close(): Promise<void>
}

export interface LearningDependencies {
  config: Config
  db: Database
  registry: WarmTargetRegistry
  reads: SchoolReads
  repository: SchoolRepository
  metrics: Metrics
  logger: Logger
  /** Only long-lived processes (servers) count and flush; a CLI process only reads. */
  count: boolean
  control?: LearnedControl
}

export function openLearning(deps: LearningDependencies): Learning {
  const { config, logger, metrics } = deps
  const store = new RequestStatsStore(deps.db, config.requestStatsKeysPerHour)
  const learned = new LearnedWarmSet(deps.registry, deps.reads, deps.repository, store, {
    settings: { enabled: config.warmLearned && config.requestStats, coverage: config.warmLearnedCoverage, maxKeys: config.warmLearnedMaxKeys, minRequests: config.warmLearnedMinRequests, windowDays: config.warmLearnedDays },
    control: deps.control ?? loadLearnedControl(),
    onDropped: (dropped) => logger.info({ key: dropped.key, reason: dropped.reason }, `learned warm key dropped: ${dropped.key}: ${dropped.reason}`),
    onPlanned: (plan) => {
      logger.info({ keys: plan.keys.length, dropped: plan.dropped.length, coveredShare: plan.coveredShare }, `learned warm set: ${plan.keys.length} keys, ${plan.dropped.length} dropped`)
    },
  })
  learned.register()

  const stats = config.requestStats && deps.count
    ? new RequestStatistics({
      classes: REQUEST_CLASSES,
      sketchSize: config.requestStatsSketchSize,
      thresholdClass: 'searches',
      thresholdSketchSize: config.requestStatsSketchSize,
      threshold: config.searchStatsThreshold,
      thresholdWindowMs: config.searchStatsWindowMinutes * 60_000,
    })
    : undefined

  let warmSetAt = 0
  const refreshWarmSet = async (): Promise<void> => {
    metrics.warmSetCoverage(stats?.warmShare(), learned.learnedKeyCount)
    if (!stats) return
    stats.setWarmSet(await learned.warmSet())
    warmSetAt = Date.now()
  }
  const flusher = stats
    ? new StatsFlusher({
      stats,
      store,
      intervalMs: config.requestStatsFlushSeconds * 1000,
      retentionDays: config.requestStatsRetentionDays,
      logger,
      afterFlush: async () => {
        if (Date.now() - warmSetAt >= WARM_SET_REFRESH_MS) await refreshWarmSet()
        metrics.warmSetCoverage(stats.warmShare(), learned.learnedKeyCount)
      },
    })
    : undefined
  flusher?.start()

  const recordRead: ReadRecorder | undefined = stats ? (key, classIndex, state) => stats.record(key, classIndex, state) : undefined
  return {
    stats,
    store,
    learned,
    recordRead,
    flush: async () => flusher?.flush(),
    warmupFinished: () => {
      warmSetAt = 0
      metrics.warmSetCoverage(stats?.warmShare(), learned.learnedKeyCount)
    },
    refreshWarmSet: async () => {
      try {
        await refreshWarmSet()
      } catch (error) {
        logger.warn({ err: error }, `warm set not refreshed: ${error instanceof Error ? error.message : String(error)}`)
      }
    },
    close: async () => flusher?.close(),
  }
}
