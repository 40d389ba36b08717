// The comparison servers of the throughput bench, each as small as what it stands for:
// - ceiling: a bare Fastify route that sends the exact bytes and headers of the cached page, in
//   the encoding the client accepts (the app's stored brotli and gzip bytes, so a compressed
//   variant compares like with like), the security headers and a request id included (the same
//   bytes on the wire), so the gap between it and the real app is the app's per-request work;
// - naive cache-aside: what a typical caching interceptor does, keyed by URL in Redis, parsing
//   the cached JSON and serialising it again on every request, loading on a miss;
// - no cache: the same query straight to PostgreSQL on every request.
// The naive and no-cache routes validate the query string with the app's own schema and ajv
// options, so what differs from the app is the caching strategy, not the validation.
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Redis } from 'ioredis'
import type { SchoolRepository } from '../src/schools/repository.ts'
import { FILTER_FIELDS, type Level, type ListQuery } from '../src/schools/model.ts'
import { listQuerySchema } from '../src/schools/schemas.ts'
import { securityHeaders } from '../src/http/security.ts'
import type { Payload } from './protocol.ts'

export const BENCH_LEVEL: Level = 'primary'

const appAjvOptions = { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } } as const

type ListQueryString = Record<string, unknown> & { page: number; pageSize: number }

/** The query string as a list query, the way a hand-written handler would build it. */
export function toListQuery(level: Level, query: ListQueryString): ListQuery {
  const filters: ListQuery['filters'] = {}
  for (const field of FILTER_FIELDS[level]) {
    const raw = query[field] as string[] | undefined
    if (raw !== undefined) filters[field] = [...new Set(raw.flatMap((value) => value.split(',')))].sort()
  }
  return { level, page: query.page, pageSize: query.pageSize, filters }
}

export function buildCeilingServer(payload: Payload): FastifyInstance {
  const app = Fastify({ logger: false })
  const identity = Buffer.from(payload.body, 'utf8')
  const gzip = Buffer.from(payload.gzipBase64, 'base64')
  const br = Buffer.from(payload.brBase64, 'base64')
  const tagged = (suffix: string): string => `${payload.etag.slice(0, -1)}-${suffix}"`
  const headers = securityHeaders()
  app.get(`/api/schools/${BENCH_LEVEL}`, (request, reply) => {
    void reply.headers(headers).header('x-request-id', randomUUID())
    // The least a server can do to pick one: a substring test (the bench sends one name or none).
    const accepted = request.headers['accept-encoding'] ?? ''
    const encoding = accepted.includes('br') ? 'br' : accepted.includes('gzip') ? 'gzip' : 'identity'
    void reply.header('etag', encoding === 'identity' ? payload.etag : tagged(encoding)).header('x-cache', 'hit').header('cache-control', 'no-cache').header('vary', 'Accept-Encoding')
    if (encoding !== 'identity') void reply.header('content-encoding', encoding)
    return reply.type('application/json; charset=utf-8').send(encoding === 'br' ? br : encoding === 'gzip' ? gzip : identity)
  })
  return app
}

export function buildNaiveCacheServer(repository: SchoolRepository, redis: Redis, keyPrefix: string, ttlSeconds: number): FastifyInstance {
  const app = Fastify({ logger: false, ajv: appAjvOptions })
  app.get<{ Querystring: ListQueryString }>(`/api/schools/${BENCH_LEVEL}`, { schema: { querystring: listQuerySchema(BENCH_LEVEL) } }, async (request) => {
    const key = `${keyPrefix}:${request.url}`
    const cached = await redis.get(key)
    if (cached !== null) return JSON.parse(cached) as unknown
    const page = await repository.list(toListQuery(BENCH_LEVEL, request.query))
    await redis.set(key, JSON.stringify(page), 'EX', ttlSeconds)
    return page
  })
  return app
}

export function buildNoCacheServer(repository: SchoolRepository): FastifyInstance {
  const app = Fastify({ logger: false, ajv: appAjvOptions })
  app.get<{ Querystring: ListQueryString }>(`/api/schools/${BENCH_LEVEL}`, { schema: { querystring: listQuerySchema(BENCH_LEVEL) } }, async (request) =>
    repository.list(toListQuery(BENCH_LEVEL, request.query)))
  return app
}
