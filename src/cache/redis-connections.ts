// The ioredis connections behind the cache, tuned so that Redis being down or slow costs a
// request at most a short, bounded wait and never an exception or a crash.
//
// Two profiles:
// - fail fast (L2 reads and writes, bus publishing): with no connection a command is rejected
//   at once instead of queueing, and a connected Redis that stops answering is cut off by
//   `commandTimeout`. bentocache catches the rejection, skips L2 (its circuit breaker then
//   skips it for a while without trying) and the request is served from L1 or the loader.
//   (The L2 connection queues until its first connect, so a process's first requests wait for
//   Redis briefly instead of starting without it; see response-cache.ts.)
// - patient (the bus subscriber): SUBSCRIBE waits in the offline queue until Redis is reachable,
//   because bentocache does not await it, so a rejected SUBSCRIBE would be an unhandled rejection.
// Both reconnect forever with a capped backoff, which is what makes recovery automatic.
import { Redis, type RedisOptions } from 'ioredis'

export interface RedisTimeouts {
  /** Longest a single command may take before it counts as a Redis failure. */
  commandTimeoutMs: number
  connectTimeoutMs: number
}

/** Reconnect forever, at most every two seconds: an outage ends by itself when Redis returns. */
function retryStrategy(attempt: number): number {
  return Math.min(attempt * 200, 2000)
}

export function failFastOptions(timeouts: RedisTimeouts): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: timeouts.commandTimeoutMs,
    connectTimeout: timeouts.connectTimeoutMs,
    retryStrategy,
  }
}

export function patientOptions(timeouts: RedisTimeouts): RedisOptions {
  return {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectTimeout: timeouts.connectTimeoutMs,
    autoResubscribe: true,
    retryStrategy,
  }
}

/**
 * Opens a connection with an 'error' listener attached before anything can fail. Without one,
 * ioredis prints every failed reconnect attempt to stderr (and a plain EventEmitter would throw).
 */
export function openRedis(url: string, options: RedisOptions, onError: (error: Error) => void): Redis {
  const connection = new Redis(url, options)
  connection.on('error', onError)
  return connection
}

/** Resolves true once the connection is ready, false if it is not within `timeoutMs`. Never rejects. */
export function whenReady(connection: Redis, timeoutMs: number): Promise<boolean> {
  if (connection.status === 'ready') return Promise.resolve(true)
  return new Promise((resolve) => {
    const done = (ready: boolean): void => {
      clearTimeout(timer)
      connection.off('ready', onReady)
      connection.off('end', onEnd)
      resolve(ready)
    }
    const onReady = (): void => done(true)
    const onEnd = (): void => done(false)
    const timer = setTimeout(() => done(false), timeoutMs)
    connection.on('ready', onReady)
    connection.on('end', onEnd)
  })
}

/** Escapes the glob characters of a SCAN MATCH pattern, so a prefix matches only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

/**
 * Keys stored under `<prefix>:`, without the prefix. SCAN in pages, never KEYS: it does not
 * block Redis, and it only sees this cache's keys even when Redis is shared.
 */
export async function* scanKeys(connection: Redis, prefix: string): AsyncGenerator<string> {
  const pattern = `${escapeGlob(prefix)}:*`
  let cursor = '0'
  do {
    const [next, keys] = await connection.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    for (const key of keys) yield key.slice(prefix.length + 1)
    cursor = next
  } while (cursor !== '0')
}

/** SCAN may return a key more than once (while Redis rehashes), hence the set. */
export async function countKeys(connection: Redis, prefix: string): Promise<number> {
  const keys = new Set<string>()
  for await (const key of scanKeys(connection, prefix)) keys.add(key)
  return keys.size
}
