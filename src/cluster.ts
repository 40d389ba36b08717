// `schools serve --workers N`: the primary process forks N HTTP workers (node:cluster, which
// shares the listening port between them), restarts a worker that dies, and on SIGTERM/SIGINT
// stops them gracefully. The scheduler and boot warmup run in the primary only, so there is
// one scheduler per deployment whatever N is; workers queue manual warmups through BullMQ.
// The boot warmup starts once the first workers listen: started together, the workers' own
// start-up (loading the code, opening their runtimes) took the cores from the warmup, which ran
// three times as long as in one process (README, "## Benchmark").
import { settlesWithin } from './async-limits.ts'
import cluster, { type Worker } from 'node:cluster'
import { generateAdminToken } from './admin/auth.ts'
import type { Config } from './config.ts'
import { ConfigError } from './errors.ts'
import { redactSecret, type Logger } from './logger.ts'
import { servePrimaryMetrics } from './operations/cluster-metrics.ts'
import { publishRuntimeFile, type Announced } from './operations/server-announce.ts'
import { openRuntime, type Runtime } from './runtime.ts'
import { startServer, type RunningServer } from './server.ts'

/** Fails fast on a setup that would serve inconsistent data. */
export function assertClusterConfig(config: Config, workers: number): void {
  if (workers > 1 && !config.redisUrl) {
    throw new ConfigError('WORKERS', `is ${workers} but REDIS_URL is not set: each worker would keep its own memory cache. Set REDIS_URL or run one worker`)
  }
  // The embedded database admits one process (src/db/directory-lock.ts): workers would be refused one by one.
  if (workers > 1 && !config.databaseUrl) {
    throw new ConfigError('WORKERS', `is ${workers} but DATABASE_URL is not set: the embedded database belongs to one process. Set DATABASE_URL or run one worker`)
  }
}

export interface ClusterHandle {
  /** Resolves when every worker has exited and the primary's runtime is closed. */
  close(): Promise<void>
  workers(): Worker[]
}

const RESTART_DELAY_MS = 1000
/** The boot warmup waits at most this long for the first workers to listen (one may fail to start). */
const WORKERS_UP_TIMEOUT_MS = 30_000
const SHUTDOWN_TIMEOUT_MS = 30_000
/** The primary's request to a worker to finish its requests and exit, sent over the cluster's IPC channel. */
const SHUTDOWN_MESSAGE = 'schools:shutdown'
/** The primary's word to a worker that the boot warmup is over: the worker's /health/ready turns 200. */
const WARM_MESSAGE = 'schools:warm'

export async function startPrimary(config: Config, logger: Logger, workers: number): Promise<ClusterHandle> {
  assertClusterConfig(config, workers)
  const runtime: Runtime = await openRuntime({ config, logger, schedule: true, role: 'primary' })
  // One token for the deployment, generated here when unset and handed to every worker; like a
  // single server's, it is shown on the terminal and in the runtime file, never in a log line.
  const adminToken = config.adminToken ?? generateAdminToken()
  redactSecret(adminToken)
  let announced: Announced | undefined
  // Every worker's /metrics answers for the deployment, this process's warmup metrics included.
  servePrimaryMetrics(runtime.metrics.registry)
  let stopping = false
  let workersUp: () => void = () => {}
  const firstWorkersListening = new Promise<void>((resolve) => {
    workersUp = resolve
  })
  const slotsListened = new Set<number>()
  // Without a boot warmup the workers are ready as soon as they listen.
  let bootWarmupOver = !config.warmupOnBoot
  const tellWarm = (worker: Worker): void => {
    if (worker.isConnected()) worker.send(WARM_MESSAGE, () => {}) // a worker gone meanwhile is replaced and told then
  }
  const fork = (slot: number): Worker => {
    // One token for the deployment: each worker would otherwise generate its own.
    const worker = cluster.fork({ SCHOOLS_WORKER_SLOT: String(slot), ADMIN_TOKEN: adminToken })
    slots.set(worker, slot)
    worker.once('listening', (address) => {
      listening.add(worker)
      if (bootWarmupOver) tellWarm(worker)
      slotsListened.add(slot)
      if (slotsListened.size === workers) workersUp()
      // The first worker listening gives the deployment's URL to the CLI on this machine.
      const host = config.host.includes(':') ? `[${config.host}]` : config.host
      announced ??= publishRuntimeFile({ config, logger, address: `http://${host}:${address.port}`, adminToken, publish: true })
    })
    return worker
  }
  const slots = new Map<Worker, number>()
  /** Workers serving HTTP; the others are still loading and could not hear a message yet. */
  const listening = new WeakSet<Worker>()
  cluster.on('exit', (worker, code, signal) => {
    const slot = slots.get(worker) ?? 0
    slots.delete(worker)
    if (stopping) return
    logger.warn({ pid: worker.process.pid, code, signal, slot }, `worker ${worker.process.pid} died (${signal ?? code}); starting a replacement`)
    setTimeout(() => {
      if (!stopping) fork(slot)
    }, RESTART_DELAY_MS).unref()
  })
  for (let slot = 1; slot <= workers; slot++) fork(slot)
  logger.info({ workers, pid: process.pid }, `cluster primary started ${workers} HTTP workers`)

  if (runtime.scheduler) await runtime.scheduler.start()
  if (config.warmupOnBoot) {
    setTimeout(workersUp, WORKERS_UP_TIMEOUT_MS).unref()
    void firstWorkersListening.then(() => {
      if (stopping) return
      void runtime.runner.start({ groups: ['all'], trigger: 'boot' }).run.done.finally(() => {
        bootWarmupOver = true
        for (const worker of slots.keys()) if (listening.has(worker)) tellWarm(worker)
      })
    })
  }

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopping = true
      announced?.remove()
      logger.info('cluster shutting down: stopping workers')
      const exits = [...slots.keys()].map((worker) => new Promise<void>((resolve) => {
        if (worker.isDead()) return resolve()
        worker.once('exit', () => resolve())
        // A serving worker gets a message, not a signal: when the whole process group was
        // signalled (Ctrl-C, systemd's default KillMode) it is already shutting down, and a
        // signal from here would be a second one. A worker still starting has no request to
        // finish, and may not listen for messages yet: SIGTERM ends it. So does a closed channel.
        if (listening.has(worker)) {
          worker.send(SHUTDOWN_MESSAGE, (error) => {
            if (error) worker.process.kill('SIGTERM')
          })
        } else {
          worker.process.kill('SIGTERM')
        }
        setTimeout(() => worker.process.kill('SIGKILL'), SHUTDOWN_TIMEOUT_MS).unref()
      }))
      // A warmup in progress is allowed to finish before the runtime closes.
      const running = runtime.runner.current()
      await Promise.all([...exits, running ? settlesWithin(running.done, SHUTDOWN_TIMEOUT_MS) : undefined])
      await runtime.close()
      logger.info('cluster shut down cleanly')
    })()
    return closing
  }
  return { close, workers: () => [...slots.keys()] }
}

/** A worker: the HTTP server only; ready once `warmedByPrimary` settles (the primary's boot warmup). */
export async function startWorker(config: Config, logger: Logger, slot: number, warmedByPrimary?: Promise<unknown>): Promise<RunningServer> {
  return startServer({ config: { ...config, workerSlot: slot }, logger, schedule: false, ...(warmedByPrimary ? { warmedElsewhere: warmedByPrimary } : {}) })
}

/**
 * A worker process from start to exit: startWorker, ended cleanly by the primary's shutdown
 * message or by SIGTERM/SIGINT. Any number of them, in any order, runs one graceful close: a
 * signal sent to the whole process group (Ctrl-C, systemd) reaches the worker and the primary at
 * once, and the primary then asks too. The handlers are in place before the server starts, so a
 * worker still starting does not miss the message; it has no request yet and just exits.
 * Forcing is the primary's job (SIGKILL after SHUTDOWN_TIMEOUT_MS); a worker whose primary
 * died exits with it (node:cluster does that).
 */
export async function runWorker(config: Config, logger: Logger, slot: number): Promise<RunningServer> {
  let server: RunningServer | undefined = undefined
  let closing = false
  const shutdown = (reason: string): void => {
    if (closing) return
    closing = true
    if (!server) {
      logger.info({ reason, pid: process.pid }, `worker ${process.pid} asked to stop while starting (${reason}); exiting`)
      process.exit(0)
    }
    logger.info({ reason, pid: process.pid }, `worker ${process.pid} shutting down (${reason}): finishing requests in flight`)
    server.close().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'worker shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  let warm: () => void = () => {}
  const warmedByPrimary = new Promise<void>((resolve) => {
    warm = resolve
  })
  process.on('message', (message: unknown) => {
    if (message === SHUTDOWN_MESSAGE) shutdown('asked by the primary')
    else if (message === WARM_MESSAGE) warm()
  })
  server = await startWorker(config, logger, slot, warmedByPrimary)
  return server
}
