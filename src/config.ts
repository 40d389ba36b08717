// The one place that reads the environment. Everything else receives a typed Config.
// ENV_SCHEMA (TypeBox) says what each variable may hold; env-schema checks the environment against
// it at start, so a typo fails with one line naming the variable and what it allows, instead of a
// strange runtime error hours later. configFrom() derives the values the code uses from the checked
// variables, and its return type is the Config type: nothing is kept in step by hand.
import { createHash } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Type, type Static } from '@sinclair/typebox'
import { flag, formatted, int, listEntries, oneOf, parseSchedule, readEnv, type RawEnv, type ScheduleJob } from './config-values.ts'
import { ConfigError } from './errors.ts'

export type { ScheduleJob } from './config-values.ts'

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const DAY = 86_400
const MB = 1024 * 1024

/** Every variable, in the order errors are reported. README "## Configuration" and .env.example list each one. */
export const ENV_SCHEMA = Type.Object({
  HOST: Type.String({ default: '127.0.0.1' }),
  PORT: int(3000, 0, 65535),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  LOG_FILE: Type.Optional(Type.String()),
  LOG_REQUESTS: flag(false),
  LOG_FORMAT: oneOf(['json', 'pretty'], 'json'),
  DATABASE_URL: Type.Optional(formatted('postgres-url', { writeOnly: true })),
  PGLITE_DIR: Type.Optional(Type.String()),
  DATABASE_SCHEMA: formatted('sql-identifier', { default: 'public' }),
  DATABASE_TIMEOUT_MS: int(3000, 100, 600_000),
  AUTO_IMPORT: flag(true),
  SOURCE_DIR: Type.Optional(Type.String()),
  REDIS_URL: Type.Optional(formatted('redis-url', { writeOnly: true })),
  REDIS_PREFIX: formatted('redis-prefix', { default: 'schools' }),
  REDIS_COMMAND_TIMEOUT_MS: int(1000, 50, 60_000),
  CACHE_TTL_LIST: int(300, 1, 7 * DAY),
  CACHE_TTL_DETAIL: int(1800, 1, 7 * DAY),
  CACHE_TTL_STATS: int(3600, 1, 7 * DAY),
  CACHE_TTL_SEARCH: int(60, 1, DAY),
  CACHE_GRACE: int(DAY, 0, 30 * DAY),
  CACHE_TTL_ERRORS: int(10, 0, 3600),
  CACHE_L1: flag(true),
  CACHE_L1_MAX_ITEMS: int(20_000, 100, 10_000_000),
  CACHE_L1_MAX_MB: int(256, 1, 65_536),
  CACHE_OUTAGE_L1_SECONDS: int(30, 1, DAY),
  CACHE_LOCAL_MAX_ITEMS: int(2000, 10, 1_000_000),
  CACHE_LOCAL_MAX_MB: int(32, 1, 65_536),
  CACHE_PROBATION_SECONDS: int(60, 1, DAY),
  CACHE_ADMIT_MIN_HITS: int(2, 1, 15),
  CACHE_ADMIT_WINDOW: int(10_000, 16, 1_000_000),
  CACHE_ADMIT_MAX_KEYS: int(5000, 1, 10_000_000),
  CACHE_ADMIT_MAX_MB: int(64, 1, 65_536),
  CACHE_KEY_COUNT_SECONDS: int(60, 0, DAY),
  // 10 is the PostgreSQL pool's size (src/db/postgres.ts): more concurrent loads would only queue for a connection.
  LOAD_CONCURRENCY: int(10, 1, 1000),
  LOAD_QUEUE: int(100, 0, 100_000),
  LOAD_QUEUE_WAIT_MS: int(2000, 0, 600_000),
  // Default: bullmq with REDIS_URL, else local (configFrom).
  SCHEDULER: Type.Optional(oneOf(['local', 'bullmq', 'off'])),
  SCHEDULER_TIMEZONE: formatted('time-zone', { default: 'Asia/Hong_Kong' }),
  SCHEDULE: Type.Optional(Type.String()),
  WARMUP_ON_BOOT: flag(true),
  WARMUP_CONCURRENCY: int(4, 1, 64),
  WARM_LIST_MAX_FILTERS: int(2, 0, 2),
  WARM_LIST_PAGES: int(1, 1, 10),
  // BullMQ's own defaults; the scale tests shorten them to see a dead instance's job move on quickly.
  SCHEDULER_LOCK_DURATION_MS: int(30_000, 1000, 3_600_000),
  SCHEDULER_STALLED_INTERVAL_MS: int(30_000, 500, 3_600_000),
  REQUEST_STATS: flag(true),
  REQUEST_STATS_SKETCH_SIZE: int(2000, 10, 1_000_000),
  REQUEST_STATS_KEYS_PER_HOUR: int(5000, 10, 1_000_000),
  REQUEST_STATS_RETENTION_DAYS: int(14, 1, 366),
  REQUEST_STATS_FLUSH_SECONDS: int(60, 1, 3600),
  SEARCH_STATS_THRESHOLD: int(3, 2, 1_000_000),
  SEARCH_STATS_WINDOW_MINUTES: int(60, 1, 10_080),
  WARM_LEARNED: flag(true),
  WARM_LEARNED_COVERAGE: Type.Number({ default: 0.999, minimum: 0, maximum: 1 }),
  WARM_LEARNED_MAX_KEYS: int(2000, 1, 100_000),
  WARM_LEARNED_MIN_REQUESTS: int(2, 1, 1_000_000),
  WARM_LEARNED_DAYS: int(7, 1, 366),
  ADMIN_TOKEN: Type.Optional(Type.String({ minLength: 16, writeOnly: true })),
  WORKERS: int(1, 1, 64),
  SCHOOLS_WORKER_SLOT: int(0, 0, 64),
  INSTANCE_ID: Type.Optional(Type.String()),
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, writeOnly: true })),
  RUNTIME_FILE: Type.Optional(Type.String()),
  SCHOOLS_URL: Type.Optional(formatted('http-url')),
  TRUSTED_PROXIES: Type.Optional(formatted('proxy-list')),
  CORS_ORIGINS: Type.Optional(formatted('origin-list')),
  ADMIN_MAX_FAILURES: int(20, 1, 10_000),
  ADMIN_FAILURE_WINDOW_SECONDS: int(60, 1, DAY),
}, { additionalProperties: false })

export type Env = Static<typeof ENV_SCHEMA>
export type Config = ReturnType<typeof configFrom>
export type CacheTtls = Config['cache']
export type SchedulerBackend = Config['scheduler']
export type LogLevel = Config['logLevel']

/** The daily jobs warm everything: 'all' and the opt-in details (every school's page). */
export const DEFAULT_SCHEDULE: ScheduleJob[] = [
  { name: 'daily-all-0300', cron: '0 3 * * *', groups: ['all', 'details'] },
  { name: 'daily-all-0800', cron: '0 8 * * *', groups: ['all', 'details'] },
  { name: 'noon-lists', cron: '0 12 * * *', groups: ['primary', 'secondary'] },
  { name: 'stats-filters-2h', cron: '0 */2 * * *', groups: ['stats', 'filters'] },
]

/** The checked configuration, or a ConfigError naming the bad variable. `LOG_FILE=` (empty) turns the log file off. */
export function loadConfig(env: RawEnv = process.env): Config {
  return configFrom(readEnv(ENV_SCHEMA, env, ['LOG_FILE']))
}

/** What the code uses, derived from the checked variables: the defaults that depend on others, parsed lists and schedules, units. */
function configFrom(env: Env) {
  const scheduler: NonNullable<Env['SCHEDULER']> = env.SCHEDULER ?? (env.REDIS_URL ? 'bullmq' : 'local')
  if (scheduler === 'bullmq' && !env.REDIS_URL) throw new ConfigError('SCHEDULER', 'bullmq needs REDIS_URL')
  const pgliteDir = env.PGLITE_DIR ?? path.join(PROJECT_ROOT, 'data', 'db')
  return {
    host: env.HOST,
    port: env.PORT,
    logLevel: env.LOG_LEVEL,
    /** Empty string disables the log file. */
    logFile: env.LOG_FILE ?? path.join(PROJECT_ROOT, 'log', 'backend.log'),
    /** One log line per request and response; off by default because it dominates the cost of a cache hit. */
    logRequests: env.LOG_REQUESTS,
    databaseUrl: env.DATABASE_URL,
    /** PGlite directory used when databaseUrl is unset; 'memory://' keeps it in memory. */
    pgliteDir,
    /** Schema the server uses inside the database (tests give each run its own). */
    databaseSchema: env.DATABASE_SCHEMA,
    /** Per-statement timeout so a hung database turns into a 503, not a hung request. */
    databaseTimeoutMs: env.DATABASE_TIMEOUT_MS,
    redisUrl: env.REDIS_URL,
    /** Prefix for every Redis key and BullMQ queue of this deployment. */
    redisPrefix: env.REDIS_PREFIX,
    cache: {
      /** Seconds a list page stays fresh. */
      listSeconds: env.CACHE_TTL_LIST,
      detailSeconds: env.CACHE_TTL_DETAIL,
      /** Stats and filter options share one class. */
      statsSeconds: env.CACHE_TTL_STATS,
      /** How long past expiry a value may still be served when the database fails. */
      graceSeconds: env.CACHE_GRACE,
      /** Free-text searches (`q`): short-lived and kept out of the shared cache. */
      searchSeconds: env.CACHE_TTL_SEARCH,
    },
    /** Disables the in-process L1 (benchmarks measure the Redis-only path with it). */
    cacheL1: env.CACHE_L1,
    cacheL1MaxItems: env.CACHE_L1_MAX_ITEMS,
    /** While Redis is unreachable, L1 copies are reloaded at least this often (no invalidations arrive). */
    cacheOutageL1Seconds: env.CACHE_OUTAGE_L1_SECONDS,
    /** A cache command to Redis slower than this counts as a Redis failure: served from L1 or the loader instead. */
    redisCommandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS,
    adminToken: env.ADMIN_TOKEN,
    scheduler,
    timeZone: env.SCHEDULER_TIMEZONE,
    schedule: parseSchedule(env.SCHEDULE, env.SCHEDULER_TIMEZONE) ?? DEFAULT_SCHEDULE,
    warmupOnBoot: env.WARMUP_ON_BOOT,
    warmupConcurrency: env.WARMUP_CONCURRENCY,
    /**
     * The list pages warmed besides config/warm-targets.json: every combination of up to this many
     * filters (one code each) that has schools, derived from the data at each run. 0 turns it off.
     */
    warmListMaxFilters: env.WARM_LIST_MAX_FILTERS,
    /** Pages of each derived combination to warm (1 = page 1 only). */
    warmListPages: env.WARM_LIST_PAGES,
    /**
     * BullMQ: how long a running warmup's lock lives without renewal. An instance that dies mid-run
     * has its job picked up by another instance about this long (plus one stalled check) later.
     */
    schedulerLockDurationMs: env.SCHEDULER_LOCK_DURATION_MS,
    /** BullMQ: how often each instance looks for jobs whose instance stopped renewing the lock. */
    schedulerStalledIntervalMs: env.SCHEDULER_STALLED_INTERVAL_MS,
    workers: env.WORKERS,
    /** Set by the cluster primary in each worker it forks (1..N); 0 outside a cluster. */
    workerSlot: env.SCHOOLS_WORKER_SLOT,
    /**
     * Names this process in the warmup history (default `<hostname>#<slot>`). Set it when several
     * instances share a hostname, so each marks only its own unfinished runs as interrupted.
     */
    instanceId: env.INSTANCE_ID,
    /** Directory of the bundled source data. */
    sourceDir: env.SOURCE_DIR ?? path.join(PROJECT_ROOT, 'data', 'source'),
    /** Import the bundled data when the database is empty at start. */
    autoImport: env.AUTO_IMPORT,
    // Cache admission, memory bounds, load shedding and metrics access (issue 10).
    /** Bound on the shared keys' L1 in bytes (a Buffer's length, a string's UTF-16 size, as the LRU counts). */
    cacheL1MaxBytes: env.CACHE_L1_MAX_MB * MB,
    /** The local store (free-text searches and keys not admitted to the shared tier): entries and bytes. */
    cacheLocalMaxItems: env.CACHE_LOCAL_MAX_ITEMS,
    cacheLocalMaxBytes: env.CACHE_LOCAL_MAX_MB * MB,
    /** Longest life of a key that is not admitted, in the local store. */
    cacheProbationSeconds: env.CACHE_PROBATION_SECONDS,
    /** Requests within the window before a key is admitted to the shared tier (Redis). */
    cacheAdmitMinHits: env.CACHE_ADMIT_MIN_HITS,
    /** Requests (that missed L1) after which the admission sketch halves its counts. */
    cacheAdmitWindow: env.CACHE_ADMIT_WINDOW,
    /** Keys admitted by frequency that one instance keeps in the shared tier at once, and their bytes. */
    cacheAdmitMaxKeys: env.CACHE_ADMIT_MAX_KEYS,
    cacheAdmitMaxBytes: env.CACHE_ADMIT_MAX_MB * MB,
    /** How often the Redis keys are counted in the background for /metrics and the status (0: never). */
    cacheKeyCountSeconds: env.CACHE_KEY_COUNT_SECONDS,
    /** Database loads for requests at once per process; more wait in a queue of loadQueue for at most loadQueueWaitMs, then 503. */
    loadConcurrency: env.LOAD_CONCURRENCY,
    loadQueue: env.LOAD_QUEUE,
    loadQueueWaitMs: env.LOAD_QUEUE_WAIT_MS,
    /** Bearer token /metrics requires; unset: /metrics is open. */
    metricsToken: env.METRICS_TOKEN,
    // --- Operations: the CLI reaching the running server, log format (issue 9, H1) ---
    /**
     * Where a running server writes its URL and admin token (mode 0600) for the CLI on the same
     * machine; removed on clean shutdown. Default: beside the PGlite directory, or one file per
     * deployment (database + schema + Redis prefix) under data/run.
     */
    runtimeFile: env.RUNTIME_FILE ?? defaultRuntimeFile(env, pgliteDir),
    /** The server the CLI sends its commands to (SCHOOLS_URL); unset: the runtime file, else direct. */
    serverUrl: env.SCHOOLS_URL,
    /** Console log lines: 'json' (one JSON object a line) or 'pretty' (ISO time, level, message). The log file is always JSON. */
    logFormat: env.LOG_FORMAT,
    // Request statistics and the learned warm set (src/traffic, src/schools/learned-targets.ts)
    /** Count successful reads per canonical key (off: no statistics, no learning, no coverage figures). */
    requestStats: env.REQUEST_STATS,
    /** Keys each instance counts between flushes (Space-Saving counters; memory is fixed by it). */
    requestStatsSketchSize: env.REQUEST_STATS_SKETCH_SIZE,
    /** Key rows kept per hour in the database (the most requested). */
    requestStatsKeysPerHour: env.REQUEST_STATS_KEYS_PER_HOUR,
    requestStatsRetentionDays: env.REQUEST_STATS_RETENTION_DAYS,
    requestStatsFlushSeconds: env.REQUEST_STATS_FLUSH_SECONDS,
    /** A search is stored only once seen this many times within the window. */
    searchStatsThreshold: env.SEARCH_STATS_THRESHOLD,
    searchStatsWindowMinutes: env.SEARCH_STATS_WINDOW_MINUTES,
    /** Warm the learned keys (the `learned` group); false keeps counting for coverage only. */
    warmLearned: env.WARM_LEARNED,
    /** Share of the window's requests the warm set should cover with the learned keys. */
    warmLearnedCoverage: env.WARM_LEARNED_COVERAGE,
    warmLearnedMaxKeys: env.WARM_LEARNED_MAX_KEYS,
    /** Requests a key needs in the window to be learned: one request is not traffic that repeats. */
    warmLearnedMinRequests: env.WARM_LEARNED_MIN_REQUESTS,
    warmLearnedDays: env.WARM_LEARNED_DAYS,
    // HTTP hygiene (issue 10, HTTP side)
    /** Proxies whose X-Forwarded-For is believed (addresses, CIDRs, or proxy-addr's loopback/linklocal/uniquelocal); empty: none. */
    trustedProxies: listEntries(env.TRUSTED_PROXIES),
    /** Origins a browser may call the API from (GET only, no credentials); empty: no cross-origin access. */
    corsOrigins: listEntries(env.CORS_ORIGINS),
    /** Failed admin authentications per client within the window before that client gets 429. */
    adminMaxFailures: env.ADMIN_MAX_FAILURES,
    adminFailureWindowSeconds: env.ADMIN_FAILURE_WINDOW_SECONDS,
    /** How long a 404 (unknown school) or a page past the end is remembered in process memory. */
    cacheTtlErrors: env.CACHE_TTL_ERRORS,
  }
}

/** One runtime file per deployment, so a CLI configured for one deployment never finds another's server. */
function defaultRuntimeFile(env: Env, pgliteDir: string): string {
  if (!env.DATABASE_URL && pgliteDir !== 'memory://') return `${pgliteDir.replace(/[\\/]+$/, '')}.server.json`
  const identity = [env.DATABASE_URL ?? 'memory', env.DATABASE_SCHEMA, env.REDIS_URL ?? '', env.REDIS_PREFIX].join('|')
  return path.join(PROJECT_ROOT, 'data', 'run', `server-${createHash('sha256').update(identity).digest('hex').slice(0, 12)}.json`)
}
