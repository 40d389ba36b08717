// The one place that reads the environment. Everything else receives a typed Config.
// Values are validated up front so a typo in an env var fails at start with a message naming
// the variable, instead of surfacing as a strange runtime error hours later.
import { createHash } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Cron } from 'croner'
import { boolean, fraction, identifier, integer, isOrigin, isProxyAddress, list, oneOf, timeZone, token, url, type Env } from './config-values.ts'
import { ConfigError } from './errors.ts'

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export type SchedulerBackend = 'local' | 'bullmq' | 'off'
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface CacheTtls {
  /** Seconds a list page stays fresh. */
  listSeconds: number
  detailSeconds: number
  /** Stats and filter options share one class. */
  statsSeconds: number
  /** How long past expiry a value may still be served when the database fails. */
  graceSeconds: number
  /** Free-text searches (`q`): short-lived and kept out of the shared cache. */
  searchSeconds: number
}

export interface ScheduleJob {
  name: string
  cron: string
  groups: string[]
}

export interface Config {
  host: string
  port: number
  logLevel: LogLevel
  /** Empty string disables the log file. */
  logFile: string
  /** One log line per request and response; off by default because it dominates the cost of a cache hit. */
  logRequests: boolean
  databaseUrl: string | undefined
  /** PGlite directory used when databaseUrl is unset; 'memory://' keeps it in memory. */
  pgliteDir: string
  /** Schema the server uses inside the database (tests give each run its own). */
  databaseSchema: string
  /** Per-statement timeout so a hung database turns into a 503, not a hung request. */
  databaseTimeoutMs: number
  redisUrl: string | undefined
  /** Prefix for every Redis key and BullMQ queue of this deployment. */
  redisPrefix: string
  cache: CacheTtls
  /** Disables the in-process L1 (benchmarks measure the Redis-only path with it). */
  cacheL1: boolean
  cacheL1MaxItems: number
  /** While Redis is unreachable, L1 copies are reloaded at least this often (no invalidations arrive). */
  cacheOutageL1Seconds: number
  adminToken: string | undefined
  scheduler: SchedulerBackend
  timeZone: string
  schedule: ScheduleJob[]
  warmupOnBoot: boolean
  warmupConcurrency: number
  /**
   * The list pages warmed besides config/warm-targets.json: every combination of up to this many
   * filters (one code each) that has schools, derived from the data at each run. 0 turns it off.
   */
  warmListMaxFilters: number
  /** Pages of each derived combination to warm (1 = page 1 only). */
  warmListPages: number
  /**
   * BullMQ: how long a running warmup's lock lives without renewal. An instance that dies mid-run
   * has its job picked up by another instance about this long (plus one stalled check) later.
   */
  schedulerLockDurationMs: number
  /** BullMQ: how often each instance looks for jobs whose instance stopped renewing the lock. */
  schedulerStalledIntervalMs: number
  workers: number
  /** Set by the cluster primary in each worker it forks (1..N); 0 outside a cluster. */
  workerSlot: number
  /**
   * Names this process in the warmup history (default `<hostname>#<slot>`). Set it when several
   * instances share a hostname, so each marks only its own unfinished runs as interrupted.
   */
  instanceId: string | undefined
  /** Directory of the bundled source data. */
  sourceDir: string
  /** Import the bundled data when the database is empty at start. */
  autoImport: boolean

  // Cache admission, memory bounds, load shedding and metrics access (issue 10).
  /** Bound on the shared keys' L1 (bytes, UTF-16 as counted by the LRU). */
  cacheL1MaxBytes: number
  /** The local store (free-text searches and keys not admitted to the shared tier): entries and bytes. */
  cacheLocalMaxItems: number
  cacheLocalMaxBytes: number
  /** Longest life of a key that is not admitted, in the local store. */
  cacheProbationSeconds: number
  /** Requests within the window before a key is admitted to the shared tier (Redis). */
  cacheAdmitMinHits: number
  /** Requests (that missed L1) after which the admission sketch halves its counts. */
  cacheAdmitWindow: number
  /** Keys admitted by frequency that one instance keeps in the shared tier at once, and their bytes. */
  cacheAdmitMaxKeys: number
  cacheAdmitMaxBytes: number
  /** How often the Redis keys are counted in the background for /metrics and the status (0: never). */
  cacheKeyCountSeconds: number
  /** Database loads for requests at once per process; more wait in a queue of loadQueue for at most loadQueueWaitMs, then 503. */
  loadConcurrency: number
  loadQueue: number
  loadQueueWaitMs: number
  /** Bearer token /metrics requires; unset: /metrics is open. */
  metricsToken: string | undefined
  // --- Operations: the CLI reaching the running server, log format (issue 9, H1) ---
  /**
   * Where a running server writes its URL and admin token (mode 0600) for the CLI on the same
   * machine; removed on clean shutdown. Default: beside the PGlite directory, or one file per
   * deployment (database + schema + Redis prefix) under data/run.
   */
  runtimeFile: string
  /** The server the CLI sends its commands to (SCHOOLS_URL); unset: the runtime file, else direct. */
  serverUrl: string | undefined
  /** Console log lines: 'json' (one JSON object a line) or 'pretty' (ISO time, level, message). The log file is always JSON. */
  logFormat: 'json' | 'pretty'
  // Request statistics and the learned warm set (src/traffic, src/schools/learned-targets.ts)
  /** Count successful reads per canonical key (off: no statistics, no learning, no coverage figures). */
  requestStats: boolean
  /** Keys each instance counts between flushes (Space-Saving counters; memory is fixed by it). */
  requestStatsSketchSize: number
  /** Key rows kept per hour in the database (the most requested). */
  requestStatsKeysPerHour: number
  requestStatsRetentionDays: number
  requestStatsFlushSeconds: number
  /** A search is stored only once seen this many times within the window. */
  searchStatsThreshold: number
  searchStatsWindowMinutes: number
  /** Warm the learned keys (the `learned` group); false keeps counting for coverage only. */
  warmLearned: boolean
  /** Share of the window's requests the warm set should cover with the learned keys. */
  warmLearnedCoverage: number
  warmLearnedMaxKeys: number
  warmLearnedDays: number
  // HTTP hygiene (issue 10, HTTP side)
  /** Proxies whose X-Forwarded-For is believed (addresses, CIDRs, or proxy-addr's loopback/linklocal/uniquelocal); empty: none. */
  trustedProxies: string[]
  /** Origins a browser may call the API from (GET only, no credentials); empty: no cross-origin access. */
  corsOrigins: string[]
  /** Failed admin authentications per client within the window before that client gets 429. */
  adminMaxFailures: number
  adminFailureWindowSeconds: number
  /** How long a 404 (unknown school) or a page past the end is remembered in process memory. */
  cacheTtlErrors: number
}

/** The daily jobs warm everything: 'all' and the opt-in details (every school's page). */
export const DEFAULT_SCHEDULE: ScheduleJob[] = [
  { name: 'daily-all-0300', cron: '0 3 * * *', groups: ['all', 'details'] },
  { name: 'daily-all-0800', cron: '0 8 * * *', groups: ['all', 'details'] },
  { name: 'noon-lists', cron: '0 12 * * *', groups: ['primary', 'secondary'] },
  { name: 'stats-filters-2h', cron: '0 */2 * * *', groups: ['stats', 'filters'] },
]

/**
 * SCHEDULE overrides the default jobs: `name=cron=group+group;name=cron=group`,
 * e.g. `nightly=0 3 * * *=all;lists=0 12 * * *=primary+secondary`. Everything but whether a
 * group exists (the warm target registry knows that) is checked here, at start: names, cron
 * expressions in the time zone, duplicates.
 */
function schedule(env: Env, zone: string): ScheduleJob[] {
  const raw = env.SCHEDULE
  if (raw === undefined || raw.trim() === '') return DEFAULT_SCHEDULE
  const names = new Set<string>()
  return raw.split(';').filter((part) => part.trim() !== '').map((part) => {
    const [name, cron, groups, ...extra] = part.split('=').map((piece) => piece.trim())
    if (!name || !cron || !groups || extra.length > 0 || !/^[a-z0-9-]+$/i.test(name)) {
      throw new ConfigError('SCHEDULE', `entry '${part}' must look like name=cron=group+group (name: letters, digits, '-')`)
    }
    if (names.has(name)) throw new ConfigError('SCHEDULE', `names job '${name}' twice`)
    names.add(name)
    let next: Date | null
    try {
      const parsed = new Cron(cron, { timezone: zone, paused: true })
      next = parsed.nextRun()
      parsed.stop()
    } catch (error) {
      throw new ConfigError('SCHEDULE', `job '${name}' has an invalid cron expression '${cron}': ${error instanceof Error ? error.message : String(error)}`)
    }
    if (next === null) throw new ConfigError('SCHEDULE', `job '${name}': cron expression '${cron}' never fires`)
    const list = groups.split('+').map((group) => group.trim()).filter(Boolean)
    const badGroup = list.find((group) => !/^[a-z0-9-]+$/i.test(group))
    if (list.length === 0 || badGroup !== undefined) {
      throw new ConfigError('SCHEDULE', `job '${name}' must name warmup groups joined by '+', got '${groups}'`)
    }
    return { name, cron, groups: list }
  })
}

/**
 * REDIS_PREFIX starts every Redis key and BullMQ queue name of the deployment, and is matched with
 * SCAN patterns: no spaces or glob characters.
 */
function redisPrefix(env: Env, name: string, fallback: string): string {
  const value = env[name] || fallback
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/.test(value)) {
    throw new ConfigError(name, `must be 1 to 100 letters, digits, '_', '.', ':' or '-' starting with a letter or digit, got '${value}'`)
  }
  return value
}

export function loadConfig(env: Env = process.env): Config {
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:'])
  const workers = integer(env, 'WORKERS', 1, 1, 64)
  const schedulerDefault: SchedulerBackend = redisUrl ? 'bullmq' : 'local'
  const scheduler = oneOf(env, 'SCHEDULER', ['local', 'bullmq', 'off'] as const, schedulerDefault)
  if (scheduler === 'bullmq' && !redisUrl) {
    throw new ConfigError('SCHEDULER', 'bullmq needs REDIS_URL')
  }
  const zone = timeZone(env, 'SCHEDULER_TIMEZONE', 'Asia/Hong_Kong')
  const adminToken = env.ADMIN_TOKEN || undefined
  if (adminToken !== undefined && adminToken.length < 16) {
    throw new ConfigError('ADMIN_TOKEN', 'must be at least 16 characters')
  }
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0, 65535),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    logFile: env.LOG_FILE ?? path.join(PROJECT_ROOT, 'log', 'backend.log'),
    logRequests: boolean(env, 'LOG_REQUESTS', false),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    pgliteDir: env.PGLITE_DIR || path.join(PROJECT_ROOT, 'data', 'db'),
    databaseSchema: identifier(env, 'DATABASE_SCHEMA', 'public'),
    databaseTimeoutMs: integer(env, 'DATABASE_TIMEOUT_MS', 3000, 100, 600_000),
    redisUrl,
    redisPrefix: redisPrefix(env, 'REDIS_PREFIX', 'schools'),
    cache: {
      listSeconds: integer(env, 'CACHE_TTL_LIST', 300, 1, 7 * 86400),
      detailSeconds: integer(env, 'CACHE_TTL_DETAIL', 1800, 1, 7 * 86400),
      statsSeconds: integer(env, 'CACHE_TTL_STATS', 3600, 1, 7 * 86400),
      graceSeconds: integer(env, 'CACHE_GRACE', 86400, 0, 30 * 86400),
      searchSeconds: integer(env, 'CACHE_TTL_SEARCH', 60, 1, 86400),
    },
    cacheL1: boolean(env, 'CACHE_L1', true),
    cacheL1MaxItems: integer(env, 'CACHE_L1_MAX_ITEMS', 20_000, 100, 10_000_000),
    cacheOutageL1Seconds: integer(env, 'CACHE_OUTAGE_L1_SECONDS', 30, 1, 86_400),
    adminToken,
    scheduler,
    timeZone: zone,
    schedule: schedule(env, zone),
    warmupOnBoot: boolean(env, 'WARMUP_ON_BOOT', true),
    warmupConcurrency: integer(env, 'WARMUP_CONCURRENCY', 4, 1, 64),
    warmListMaxFilters: integer(env, 'WARM_LIST_MAX_FILTERS', 2, 0, 2),
    warmListPages: integer(env, 'WARM_LIST_PAGES', 1, 1, 10),
    // BullMQ's own defaults; the scale tests shorten them to see a dead instance's job move on quickly.
    schedulerLockDurationMs: integer(env, 'SCHEDULER_LOCK_DURATION_MS', 30_000, 1000, 3_600_000),
    schedulerStalledIntervalMs: integer(env, 'SCHEDULER_STALLED_INTERVAL_MS', 30_000, 500, 3_600_000),
    workers,
    workerSlot: integer(env, 'SCHOOLS_WORKER_SLOT', 0, 0, 64),
    instanceId: env.INSTANCE_ID || undefined,
    sourceDir: env.SOURCE_DIR || path.join(PROJECT_ROOT, 'data', 'source'),
    autoImport: boolean(env, 'AUTO_IMPORT', true),

    // Cache admission, memory bounds, load shedding and metrics access (issue 10).
    cacheL1MaxBytes: integer(env, 'CACHE_L1_MAX_MB', 256, 1, 65_536) * MB,
    cacheLocalMaxItems: integer(env, 'CACHE_LOCAL_MAX_ITEMS', 2000, 10, 1_000_000),
    cacheLocalMaxBytes: integer(env, 'CACHE_LOCAL_MAX_MB', 32, 1, 65_536) * MB,
    cacheProbationSeconds: integer(env, 'CACHE_PROBATION_SECONDS', 60, 1, 86_400),
    cacheAdmitMinHits: integer(env, 'CACHE_ADMIT_MIN_HITS', 2, 1, 15),
    cacheAdmitWindow: integer(env, 'CACHE_ADMIT_WINDOW', 10_000, 16, 1_000_000),
    cacheAdmitMaxKeys: integer(env, 'CACHE_ADMIT_MAX_KEYS', 5000, 1, 10_000_000),
    cacheAdmitMaxBytes: integer(env, 'CACHE_ADMIT_MAX_MB', 64, 1, 65_536) * MB,
    cacheKeyCountSeconds: integer(env, 'CACHE_KEY_COUNT_SECONDS', 60, 0, 86_400),
    // 10 is the PostgreSQL pool's size (src/db/postgres.ts): more concurrent loads would only queue for a connection.
    loadConcurrency: integer(env, 'LOAD_CONCURRENCY', 10, 1, 1000),
    loadQueue: integer(env, 'LOAD_QUEUE', 100, 0, 100_000),
    loadQueueWaitMs: integer(env, 'LOAD_QUEUE_WAIT_MS', 2000, 0, 600_000),
    metricsToken: token(env, 'METRICS_TOKEN'),
    // --- Operations (issue 9, H1) ---
    runtimeFile: env.RUNTIME_FILE || defaultRuntimeFile(env),
    serverUrl: url(env, 'SCHOOLS_URL', ['http:', 'https:']),
    logFormat: oneOf(env, 'LOG_FORMAT', ['json', 'pretty'] as const, 'json'),
    // Request statistics and the learned warm set
    requestStats: boolean(env, 'REQUEST_STATS', true),
    requestStatsSketchSize: integer(env, 'REQUEST_STATS_SKETCH_SIZE', 2000, 10, 1_000_000),
    requestStatsKeysPerHour: integer(env, 'REQUEST_STATS_KEYS_PER_HOUR', 5000, 10, 1_000_000),
    requestStatsRetentionDays: integer(env, 'REQUEST_STATS_RETENTION_DAYS', 14, 1, 366),
    requestStatsFlushSeconds: integer(env, 'REQUEST_STATS_FLUSH_SECONDS', 60, 1, 3600),
    searchStatsThreshold: integer(env, 'SEARCH_STATS_THRESHOLD', 3, 2, 1_000_000),
    searchStatsWindowMinutes: integer(env, 'SEARCH_STATS_WINDOW_MINUTES', 60, 1, 10_080),
    warmLearned: boolean(env, 'WARM_LEARNED', true),
    warmLearnedCoverage: fraction(env, 'WARM_LEARNED_COVERAGE', 0.999),
    warmLearnedMaxKeys: integer(env, 'WARM_LEARNED_MAX_KEYS', 2000, 1, 100_000),
    warmLearnedDays: integer(env, 'WARM_LEARNED_DAYS', 7, 1, 366),
    // HTTP hygiene (issue 10, HTTP side)
    trustedProxies: list(env, 'TRUSTED_PROXIES', isProxyAddress, 'an IP address, a CIDR range, loopback, linklocal or uniquelocal'),
    corsOrigins: list(env, 'CORS_ORIGINS', isOrigin, 'an origin such as https://schools.example.org (scheme, host and port only)'),
    adminMaxFailures: integer(env, 'ADMIN_MAX_FAILURES', 20, 1, 10_000),
    adminFailureWindowSeconds: integer(env, 'ADMIN_FAILURE_WINDOW_SECONDS', 60, 1, 86_400),
    cacheTtlErrors: integer(env, 'CACHE_TTL_ERRORS', 10, 0, 3600),
  }
}

const MB = 1024 * 1024

/** One runtime file per deployment, so a CLI configured for one deployment never finds another's server. */
function defaultRuntimeFile(env: Env): string {
  const pgliteDir = env.PGLITE_DIR || path.join(PROJECT_ROOT, 'data', 'db')
  if (!env.DATABASE_URL && pgliteDir !== 'memory://') return `${pgliteDir.replace(/[\\/]+$/, '')}.server.json`
  const identity = [env.DATABASE_URL ?? 'memory', env.DATABASE_SCHEMA || 'public', env.REDIS_URL ?? '', env.REDIS_PREFIX || 'schools'].join('|')
  return path.join(PROJECT_ROOT, 'data', 'run', `server-${createHash('sha256').update(identity).digest('hex').slice(0, 12)}.json`)
}

