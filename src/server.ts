// `npm start` / `schools serve`: opens the runtime, starts the HTTP server, the scheduler and
// the boot warmup, and shuts everything down gracefully on SIGTERM/SIGINT.
import type { FastifyInstance } from 'fastify'
import { generateAdminToken } from './admin/auth.ts'
import { buildApp } from './app.ts'
import { loadConfig, type Config } from './config.ts'
import { ConfigError } from './errors.ts'
import { workerMetricsRenderer } from './operations/cluster-metrics.ts'
import { createLogger, redactSecret, type Logger } from './logger.ts'
import { publishRuntimeFile } from './operations/server-announce.ts'
import { openRuntime, type Runtime } from './runtime.ts'

export interface ServerOptions {
  config: Config
  logger: Logger
  /** Run the scheduler and boot warmup in this process (false for HTTP-only cluster workers). */
  schedule?: boolean
  instanceId?: string
  defaultMetrics?: boolean
  /** A cluster worker's: settles when the primary's boot warmup has finished (until then /health/ready is 503). */
  warmedElsewhere?: Promise<unknown>
}

export interface RunningServer {
  app: FastifyInstance
  runtime: Runtime
  address: string
  adminToken: string
  close(): Promise<void>
}

/** The cache's health for /health, in fixed words (never a connection error's text). */
function cacheHealth(runtime: Runtime): { ok: boolean; detail: string } {
  const status = runtime.cache.status()
  if (status.backend === 'memory') return { ok: true, detail: 'memory only' }
  if (status.redisReachable === false) return { ok: false, detail: 'redis unreachable; serving from memory and the database' }
  return { ok: true, detail: status.l1 ? 'memory + redis' : 'redis (no L1)' }
}

export async function buildServer(runtime: Runtime, adminToken: string, options: { ready?: () => boolean } = {}): Promise<FastifyInstance> {
  return buildApp({
    ...(options.ready ? { ready: options.ready } : {}),
    db: runtime.db,
    reads: runtime.reads,
    recordRead: runtime.learning.recordRead,
    logger: runtime.logger,
    logRequests: runtime.config.logRequests,
    instance: { id: runtime.instanceId, pid: process.pid },
    trustedProxies: runtime.config.trustedProxies,
    corsOrigins: runtime.config.corsOrigins,
    health: () => ({ cache: cacheHealth(runtime) }),
    admin: {
      runtime,
      token: adminToken,
      lockout: {
        maxFailures: runtime.config.adminMaxFailures,
        windowMs: runtime.config.adminFailureWindowSeconds * 1000,
        redisUrl: runtime.config.redisUrl,
        redisPrefix: runtime.config.redisPrefix,
        onRedisError: (error) => runtime.logger.debug({ err: error }, 'admin lock-out: Redis error; failures are not counted meanwhile'),
      },
    },
    metrics: { metrics: runtime.metrics, token: runtime.config.metricsToken, beforeScrape: async () => runtime.metrics.cacheFigures(await runtime.cache.stats()), render: workerMetricsRenderer(runtime.metrics.registry) },
  })
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { config, logger } = options
  const schedule = options.schedule ?? true
  const runtime = await openRuntime({ config, logger, schedule, ...(options.instanceId ? { instanceId: options.instanceId } : {}), ...(options.defaultMetrics === undefined ? {} : { defaultMetrics: options.defaultMetrics }) })
  const adminToken = config.adminToken ?? generateAdminToken()
  redactSecret(adminToken)
  // /health/ready answers 503 until the boot warmup has finished (here, or a cluster worker's
  // primary's), so no traffic meets a cold instance.
  let booted = !(schedule && config.warmupOnBoot) && options.warmedElsewhere === undefined
  void options.warmedElsewhere?.finally(() => {
    booted = true
  })
  const app = await buildServer(runtime, adminToken, { ready: () => booted })
  const address = await app.listen({ host: config.host, port: config.port })
  // The runtime file (URL + token, owner-only) lets the CLI reach this server; a generated token
  // is shown there and on the terminal, never in the log.
  const announced = publishRuntimeFile({ config, logger, address, adminToken, publish: schedule && config.workerSlot === 0 })
  logger.info({ address, database: runtime.db.kind, cache: config.redisUrl ? 'memory+redis' : 'memory', scheduler: schedule ? config.scheduler : 'off (not in this process)' }, `school API listening on ${address} (docs at ${address}/docs)`)

  if (schedule && runtime.scheduler) await runtime.scheduler.start()
  if (schedule && config.warmupOnBoot) {
    void runtime.runner.start({ groups: ['all'], trigger: 'boot' }).run.done.finally(() => {
      booted = true
    })
  }

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info('shutting down: no new connections, finishing requests in flight')
      announced.remove()
      await app.close()
      await runtime.close()
      logger.info('shut down cleanly')
    })()
    return closing
  }
  return { app, runtime, address, adminToken, close }
}

/** Ends the process cleanly on SIGTERM/SIGINT; a second signal forces exit. */
export function exitOnSignals(close: () => Promise<void>, logger: Logger): void {
  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) process.exit(1)
    signalled = true
    logger.info({ signal }, `received ${signal}`)
    close().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.once('SIGTERM', onSignal)
  process.once('SIGINT', onSignal)
}

/** The configuration, or one line naming the bad variable on stderr and exit 1 (no stack: it is the operator's input). */
function configOrExit(): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`schools: ${error.message}\n`)
    process.exit(1)
  }
}

const isEntryPoint = import.meta.url === `file://${process.argv[1]}`
if (isEntryPoint) {
  const config = configOrExit()
  const logger = createLogger(config)
  if (config.workers > 1) {
    // Never silently one: several workers are started by `npm start` / `schools serve`.
    logger.fatal({ workers: config.workers }, `WORKERS is ${config.workers}: start the deployment with \`npm start\` or \`schools serve\`, which run the workers; src/server.ts runs one process`)
    logger.flush()
    setTimeout(() => process.exit(2), 100)
  } else {
    // Signals are handled from the start: one that arrives while starting waits for the start, then closes.
    const started = startServer({ config, logger })
    exitOnSignals(async () => (await started).close(), logger)
    started.catch((error: unknown) => {
      logger.fatal({ err: error }, `failed to start: ${error instanceof Error ? error.message : String(error)}`)
      logger.flush()
      setTimeout(() => process.exit(1), 100)
    })
  }
}
