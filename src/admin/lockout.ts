// Counting failed admin authentications per client, through @fastify/rate-limit. Only failures
// are counted (the guard calls the limiter when a token is missing or wrong, never for the right
// one), so a correct token is never refused because of anyone's failures, and a guesser still
// gets 429 once it has failed `maxFailures` times within the window. The client is request.ip,
// which honours X-Forwarded-For only from TRUSTED_PROXIES (Fastify's trustProxy): behind a
// reverse proxy every client has its own count instead of sharing the proxy's address.
// With Redis the counts live there (one key per failing client, expiring with its window), so
// every worker and instance shares them; without, in process memory (at most 5,000 clients,
// least recently failing dropped first). A Redis that does not answer lets the failure through
// as a plain 401 (skipOnError): the token is still required, only the counting pauses.
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import { failFastOptions, openRedis } from '../cache/redis-connections.ts'

export interface AdminLockoutOptions {
  maxFailures: number
  windowMs: number
  /** Shared counts across workers and instances; memory only without it. */
  redisUrl?: string | undefined
  /** The deployment's Redis prefix; keys are `<prefix>:admin-failures:<client>`. */
  redisPrefix?: string
  onRedisError?: (error: Error) => void
}

export interface AdminFailureResult {
  /** True once this client has failed more than maxFailures times in the current window. */
  locked: boolean
  /** Seconds until the client's window ends. */
  retryAfterSeconds: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts one failed admin authentication for the request's client (see src/admin/lockout.ts). */
    recordAdminFailure?: (request: FastifyRequest) => Promise<AdminFailureResult>
  }
}

export const adminLockoutPlugin = fp(async (app: FastifyInstance, options: AdminLockoutOptions) => {
  let redis: Redis | undefined
  if (options.redisUrl) {
    const connection = openRedis(options.redisUrl, { ...failFastOptions({ commandTimeoutMs: 1000, connectTimeoutMs: 2000 }), enableOfflineQueue: true }, (error) => options.onRedisError?.(error))
    // Queue commands only until the first connect; afterwards a lost Redis fails fast.
    connection.once('ready', () => {
      connection.options.enableOfflineQueue = false
    })
    redis = connection
    app.addHook('onClose', async () => {
      connection.disconnect()
    })
  }
  await app.register(rateLimit, {
    global: false,
    max: options.maxFailures,
    timeWindow: options.windowMs,
    skipOnError: true,
    keyGenerator: (request) => request.ip,
    ...(redis ? { redis, nameSpace: `${options.redisPrefix ?? 'schools'}:admin-failures:` } : {}),
  })
  const limiter = app.createRateLimit()
  app.decorate('recordAdminFailure', async (request: FastifyRequest): Promise<AdminFailureResult> => {
    const result = await limiter(request)
    if (result.isAllowed) return { locked: false, retryAfterSeconds: 0 }
    return { locked: result.isExceeded, retryAfterSeconds: Math.max(1, result.ttlInSeconds) }
  })
}, { name: 'admin-lockout' })
