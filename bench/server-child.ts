// One server of the throughput bench, run as a child process (`fork`) so it has a core of its
// own and the load generator in the parent does not share its event loop. The mode comes in
// argv[2], the configuration in the environment (read through src/config.ts like the real
// server), and the parent talks to it over IPC (protocol.ts).
import { mkdir, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import type { Database } from '../src/db/database.ts'
import type { CachedBody } from '../src/http/cached-reply.ts'
import type { SchoolRepository as Repository } from '../src/schools/repository.ts'
import { appModules } from './app-modules.ts'
import { ADMIN_TOKEN } from './environment.ts'
import { buildCeilingServer, buildNaiveCacheServer, buildNoCacheServer } from './baseline-servers.ts'
import type { ChildMessage, ParentMessage, Payload, ServerMode } from './protocol.ts'

const MODES: readonly ServerMode[] = ['ceiling', 'app', 'stubbed', 'naive', 'nocache']
const { loadConfig, openDatabase, createLogger, SchoolRepository, entryFromIdentity, openRuntime, SchoolReads, buildServer, startServer } = await appModules()

interface Started {
  port: number
  warmupMs?: number
  /** Statements sent to PostgreSQL so far; undefined for servers without a database. */
  queries: () => number | undefined
  close: () => Promise<void>
}

function send(message: ChildMessage): void {
  process.send?.(message)
}

function listenPort(app: FastifyInstance): Promise<number> {
  return app.listen({ host: '127.0.0.1', port: 0 }).then(() => {
    const address = app.server.address()
    if (address === null || typeof address === 'string') throw new Error('server has no TCP address')
    return address.port
  })
}

function nextPayload(): Promise<Payload> {
  return new Promise((resolve) => {
    const onMessage = (message: ParentMessage): void => {
      if (message.type !== 'payload') return
      process.off('message', onMessage)
      resolve(message.payload)
    }
    process.on('message', onMessage)
  })
}

/** The real application: startServer, exactly as `npm start` runs it, then one default warmup. */
async function startApp(): Promise<Started> {
  const config = loadConfig()
  const logger = createLogger(config)
  const server = await startServer({ config, logger, schedule: false })
  const started = performance.now()
  const summary = await server.runtime.runner.run({ groups: ['all'], trigger: 'bench' })
  if (summary.failed > 0) throw new Error(`warmup failed for ${summary.failed} keys`)
  return {
    port: Number(new URL(server.address).port),
    warmupMs: performance.now() - started,
    queries: () => server.runtime.db.counter.total,
    close: server.close,
  }
}

/**
 * Diagnostic: the real app (same runtime, plugins and routes) with the cache read replaced by
 * the fixed page, so its cost minus the ceiling's is the HTTP and framework work of the app, and
 * the L1 mode's cost minus this one is the read path (reads.list: cache lookup and bookkeeping).
 */
async function startStubbedApp(payload: Payload): Promise<Started> {
  const config = loadConfig()
  const runtime = await openRuntime({ config, logger: createLogger(config), schedule: false })
  const page: CachedBody = { entry: await entryFromIdentity(Buffer.from(payload.body, 'utf8'), Date.now()), state: 'hit' }
  class FixedPageReads extends SchoolReads {
    override list(): Promise<CachedBody> {
      return Promise.resolve(page)
    }
  }
  const reads = new FixedPageReads(runtime.repository, runtime.cache, runtime.reads.policies)
  const app = await buildServer({ ...runtime, reads }, ADMIN_TOKEN)
  return {
    port: await listenPort(app),
    queries: () => runtime.db.counter.total,
    close: async () => {
      await app.close()
      await runtime.close()
    },
  }
}

async function startWithDatabase(build: (db: Database, repository: Repository) => { app: FastifyInstance; close?: () => Promise<void> }): Promise<Started> {
  const config = loadConfig()
  const db = await openDatabase(config)
  const { app, close } = build(db, new SchoolRepository(db))
  const port = await listenPort(app)
  return {
    port,
    queries: () => db.counter.total,
    close: async () => {
      await app.close()
      await close?.()
      await db.close()
    },
  }
}

async function start(mode: ServerMode): Promise<Started> {
  switch (mode) {
    case 'app':
      return startApp()
    case 'stubbed':
      return startStubbedApp(await nextPayload())
    case 'ceiling': {
      const app = buildCeilingServer(await nextPayload())
      return { port: await listenPort(app), queries: () => undefined, close: () => app.close() }
    }
    case 'naive':
      return startWithDatabase((_db, repository) => {
        const config = loadConfig()
        if (!config.redisUrl) throw new Error('naive cache-aside needs REDIS_URL')
        const redis = new Redis(config.redisUrl)
        return {
          app: buildNaiveCacheServer(repository, redis, `${config.redisPrefix}:naive`, config.cache.listSeconds),
          close: async () => {
            redis.disconnect()
          },
        }
      })
    case 'nocache':
      return startWithDatabase((_db, repository) => ({ app: buildNoCacheServer(repository) }))
  }
}

/**
 * CPU profiling of the measured load only (--profile), through the inspector, so start-up,
 * warmup and the idle time while other modes run stay out of the profile.
 */
class CpuProfiler {
  readonly #session = new Session()

  async start(): Promise<void> {
    this.#session.connect()
    await this.#session.post('Profiler.enable')
    await this.#session.post('Profiler.setSamplingInterval', { interval: 200 })
    await this.#session.post('Profiler.start')
  }

  async stop(file: string): Promise<void> {
    const { profile } = await this.#session.post('Profiler.stop')
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, JSON.stringify(profile))
    this.#session.disconnect()
  }
}

async function main(): Promise<void> {
  const mode = process.argv[2] as ServerMode
  if (!MODES.includes(mode)) throw new Error(`unknown server mode '${String(mode)}' (expected ${MODES.join(', ')})`)
  const server = await start(mode)
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    // A bounded exit: a stuck close must not leave an orphan behind the bench.
    setTimeout(() => process.exit(0), 5000).unref()
    server.close().then(() => process.exit(0), () => process.exit(1))
  }
  const profiler = new CpuProfiler()
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'profile-start') profiler.start().catch((error: unknown) => send({ type: 'failed', message: String(error) }))
    else if (message.type === 'profile-stop') {
      profiler.stop(message.file).then(() => send({ type: 'profiled', file: message.file }), (error: unknown) => send({ type: 'failed', message: String(error) }))
    } else if (message.type === 'counters') {
      const cpu = process.cpuUsage()
      const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage()
      send({ type: 'counters', queries: server.queries() ?? 0, cpuMicros: cpu.user + cpu.system, memory: { rss, heapTotal, heapUsed, external, arrayBuffers } })
    }
    else if (message.type === 'stop') stop()
  })
  // The parent died or closed the channel: go too.
  process.on('disconnect', stop)
  send({ type: 'ready', port: server.port, ...(server.warmupMs === undefined ? {} : { warmupMs: server.warmupMs }) })
}

main().catch((error: unknown) => {
  send({ type: 'failed', message: error instanceof Error ? error.stack ?? error.message : String(error) })
  setTimeout(() => process.exit(1), 100)
})
