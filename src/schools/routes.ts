// The public, read-only school API. Every handler answers from the cache through SchoolReads.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import { sendCached } from '../http/cached-reply.ts'
import { REQUEST_CLASS_INDEX } from './learned-keys.ts'
import { LEVELS, type Level } from './model.ts'
import type { ListRequest, PreparedList, SchoolReads } from './reads.ts'
import { emptyQuerySchema, errorSchema, filtersQuerySchema, listQuerySchema, listResponseSchema, schoolNoParams } from './schemas.ts'

const cacheHeaders = {
  'x-cache': { type: 'string', enum: ['hit', 'miss', 'stale'], description: 'Whether the body came from cache; absent on searches (q)' },
  etag: { type: 'string', description: 'Strong ETag of the encoding sent; send it back in If-None-Match for a 304' },
  'content-encoding': { type: 'string', enum: ['br', 'gzip'], description: 'Per Accept-Encoding; absent for identity' },
  vary: { type: 'string', description: 'Accept-Encoding' },
}

const documented = (description: string, okSchema: object) => ({
  200: { description, ...okSchema, headers: cacheHeaders },
  304: { description: 'Not modified (If-None-Match matched)', type: 'null' },
  400: { description: 'Invalid parameter', ...errorSchema },
  503: { description: 'Database unavailable and nothing cached', ...errorSchema },
})

/** Distinct list URLs whose parsed query and cache key are kept, and a bound on their total size. */
const PREPARED_LISTS = 2000
const PREPARED_LISTS_SIZE = 2_000_000

/** Counts a successful read (src/traffic/request-stats.ts record): key, class index, cache state. */
export type ReadRecorder = (key: string, classIndex: number, state: 'hit' | 'miss' | 'stale') => void

export async function schoolRoutes(app: FastifyInstance, options: { reads: SchoolReads; recordRead?: ReadRecorder }): Promise<void> {
  const { reads } = options
  // Only reads that succeed (200 or 304) get here: a rejected request throws before it.
  const record: ReadRecorder = options.recordRead ?? (() => {})
  const { lists, searches, details, filters, stats } = REQUEST_CLASS_INDEX
  // Parsing a list request and building its canonical key is work a cache hit would otherwise
  // repeat on every request (`npm run bench` measured it at about a third of an L1 hit's read
  // path). The same URL always validates to the same query, so keeping the result per raw URL
  // changes nothing but the cost: what parseListRequest rejects still throws (and is not kept),
  // and unknown codes are still checked on every miss, in reads.list. Bounded by count and by
  // URL length, so random URLs cannot grow it.
  const preparedLists = new LRUCache<string, PreparedList>({
    max: PREPARED_LISTS,
    maxSize: PREPARED_LISTS_SIZE,
    sizeCalculation: (prepared, url) => url.length + prepared.key.length + 100,
  })

  const listFromCache = async (prepared: PreparedList, requestClass: number, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const cached = await reads.list(prepared.query, prepared.key)
    record(prepared.key, requestClass, cached.state)
    return sendCached(request, reply, cached)
  }

  for (const level of LEVELS) {
    app.get<{ Querystring: ListRequest }>(`/api/schools/${level}`, {
      schema: {
        tags: ['schools'],
        summary: `List ${level} schools`,
        description: 'Filters combine with AND; several codes for one filter (repeated or comma-separated) mean OR. Ordered by English name, then school number.',
        querystring: listQuerySchema(level),
        response: documented(`A page of ${level} schools`, listResponseSchema),
      },
    }, (request, reply) => {
      let prepared = preparedLists.get(request.url)
      if (prepared === undefined) {
        prepared = reads.prepareList(level, request.query)
        preparedLists.set(request.url, prepared)
      }
      const requestClass = prepared.query.q ? searches : lists
      // A page fresh in memory is answered synchronously: no promise, no microtask (`npm run bench`).
      const hit = reads.peekList(prepared)
      if (hit) {
        record(prepared.key, requestClass, hit.state)
        sendCached(request, reply, hit)
        return
      }
      return listFromCache(prepared, requestClass, request, reply)
    })
  }

  app.get<{ Querystring: { level: Level } }>('/api/schools/filters', {
    schema: {
      tags: ['schools'],
      summary: 'Every filter value of a level with labels and counts',
      querystring: filtersQuerySchema,
      response: documented('Filter options', { type: 'object', additionalProperties: true }),
    },
  }, async (request, reply) => {
    const cached = await reads.filterOptions(request.query.level)
    record(reads.filterOptionsKey(request.query.level), filters, cached.state)
    return sendCached(request, reply, cached)
  })

  app.get('/api/schools/stats', {
    schema: {
      tags: ['schools'],
      summary: 'Totals by level, district and category; application windows open now',
      querystring: emptyQuerySchema,
      response: documented('Statistics', { type: 'object', additionalProperties: true }),
    },
  }, async (request, reply) => {
    const cached = await reads.stats()
    record(reads.statsKey, stats, cached.state)
    return sendCached(request, reply, cached)
  })

  app.get<{ Params: { schoolNo: string } }>('/api/schools/:schoolNo', {
    schema: {
      tags: ['schools'],
      summary: 'One school with everything known about it',
      params: schoolNoParams,
      querystring: emptyQuerySchema,
      response: { ...documented('The school, with its profile and school net', { type: 'object', additionalProperties: true }), 404: { description: 'No such school', ...errorSchema } },
    },
  }, async (request, reply) => {
    const cached = await reads.detail(request.params.schoolNo)
    record(reads.detailKey(request.params.schoolNo), details, cached.state)
    return sendCached(request, reply, cached)
  })
}
