// The hot path: a cached body is sent as the stored bytes, with its strong ETag and the
// cache state, and a matching If-None-Match is answered 304 with no body at all.
import type { FastifyReply, FastifyRequest } from 'fastify'

export interface CachedBody {
  body: string
  etag: string
  state: 'hit' | 'miss' | 'stale'
}

export function sendCached(request: FastifyRequest, reply: FastifyReply, cached: CachedBody): FastifyReply {
  void reply.header('etag', cached.etag).header('x-cache', cached.state).header('cache-control', 'no-cache')
  if (etagMatches(request.headers['if-none-match'], cached.etag)) return reply.status(304).send()
  return reply.type('application/json; charset=utf-8').send(cached.body)
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  return header.split(',').some((candidate) => candidate.trim() === etag)
}
