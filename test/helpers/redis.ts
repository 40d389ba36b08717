// Redis for tests: a raw client to look behind the cache's back, key cleanup by prefix, and a
// throwaway redis-server of our own that a test may stop and start (outage tests), on a port
// nothing else uses.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { Redis } from 'ioredis'
import { poll } from './wait.ts'

/** A plain client for assertions. Errors are swallowed: a test asserting on Redis fails on the command instead. */
export function rawRedis(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false })
  client.on('error', () => {})
  return client
}

/** Keys under `<prefix>:`, full names. SCAN, so it is safe on a shared Redis (and may repeat a key, hence the set). */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys = new Set<string>()
  let cursor = '0'
  do {
    const [next, page] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000)
    for (const key of page) keys.add(key)
    cursor = next
  } while (cursor !== '0')
  return [...keys]
}

export async function deleteKeysUnder(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix)
  if (keys.length > 0) await client.unlink(...keys)
}

/** A TCP port that was free a moment ago (the OS picks it). */
export async function sparePort(): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  await once(server, 'close')
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  return address.port
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

/** A redis-server this test owns: no persistence, so a restart comes back empty like a crashed cache. */
export class OwnRedisServer {
  #process: ChildProcess | undefined

  private constructor(readonly port: number) {}

  /** A spare port for a redis-server not started yet (a test that starts Redis late). */
  static async reserve(): Promise<OwnRedisServer> {
    return new OwnRedisServer(await sparePort())
  }

  static async start(): Promise<OwnRedisServer> {
    const server = new OwnRedisServer(await sparePort())
    await server.start()
    return server
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
    this.#process = child
    await poll(`redis-server to answer on port ${this.port}`, 30_000, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} on port ${this.port}`)
      return answersPing(this.url)
    }, { reportErrors: true })
  }

  async stop(): Promise<void> {
    const child = this.#process
    this.#process = undefined
    if (!child || child.exitCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
}

async function answersPing(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}
