// `schools serve --workers N`: the primary process forks N HTTP workers (node:cluster, which
// shares the listening port between them), restarts a worker that dies, and on SIGTERM/SIGINT
// stops them gracefully. The scheduler and boot warmup run in the primary only, so there is
// one scheduler per deployment whatever N is; workers queue manual warmups through BullMQ.
import cluster, { type Worker } from 'node:cluster'
import type { Config } from './config.ts'
import { ConfigError } from './errors.ts'
import type { Logger } from './logger.ts'
import { openRuntime, type Runtime } from './runtime.ts'
import { startServer, type RunningServer } from './server.ts'

/** Fails fast on a setup that would serve inconsistent data. */
export function assertClusterConfig(config: Config, workers: number): void {
  if (workers > 1 && !config.redisUrl) {
    throw new ConfigError('WORKERS', `is ${workers} but REDIS_URL is not set: each worker would keep its own memory cache. Set REDIS_URL or run one worker`)
  }
}

export interface ClusterHandle {
  /** Resolves when every worker has exited and the primary's runtime is closed. */
  close(): Promise<void>
  workers(): Worker[]
}

const RESTART_DELAY_MS = 1000
const SHUTDOWN_TIMEOUT_MS = 30_000

export async function startPrimary(config: Config, logger: Logger, workers: number): Promise<ClusterHandle> {
  assertClusterConfig(config, workers)
  const runtime: Runtime = await openRuntime({ config, logger, schedule: true, role: 'primary' })
  let stopping = false
  const fork = (slot: number): Worker => {
    const worker = cluster.fork({ SCHOOLS_WORKER_SLOT: String(slot) })
    slots.set(worker, slot)
    return worker
  }
  const slots = new Map<Worker, number>()
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
  if (config.warmupOnBoot) runtime.runner.start({ groups: ['all'], trigger: 'boot' })

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopping = true
      logger.info('cluster shutting down: stopping workers')
      const exits = [...slots.keys()].map((worker) => new Promise<void>((resolve) => {
        if (worker.isDead()) return resolve()
        worker.once('exit', () => resolve())
        // SIGTERM runs the worker's own graceful shutdown (finish requests in flight).
        worker.process.kill('SIGTERM')
        setTimeout(() => worker.process.kill('SIGKILL'), SHUTDOWN_TIMEOUT_MS).unref()
      }))
      // A warmup in progress is allowed to finish before the runtime closes.
      const running = runtime.runner.current()
      await Promise.all([...exits, running ? Promise.race([running.done, new Promise((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS).unref())]) : undefined])
      await runtime.close()
      logger.info('cluster shut down cleanly')
    })()
    return closing
  }
  return { close, workers: () => [...slots.keys()] }
}

/** A worker: the HTTP server only. */
export async function startWorker(config: Config, logger: Logger, slot: number): Promise<RunningServer> {
  return startServer({ config: { ...config, workerSlot: slot }, logger, schedule: false })
}
