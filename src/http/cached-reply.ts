// The hot path: a cached body is sent as stored bytes, in the encoding the client accepts
// (brotli, gzip or identity, all compressed once when the entry was stored), with that
// encoding's strong ETag, and a matching If-None-Match is answered 304 with no body at all.
// Every answer says `Vary: Accept-Encoding`, so a shared cache keeps the encodings apart.
// No compression and no JSON work happen here.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CacheEntry, ContentEncoding } from '../cache/cache-entry.ts'

export interface CachedBody {
  entry: CacheEntry
  state: 'hit' | 'miss' | 'stale'
  /** The state is counted but not told (a search: whether someone else searched that term). */
  private?: boolean
}

/** Accept-Encoding values seen, with the encoding chosen: clients send a handful of distinct ones. */
const chosenEncodings = new Map<string, ContentEncoding>()
const CHOSEN_ENCODINGS_MAX = 256

/**
 * The encoding to send for an Accept-Encoding header: br, else gzip, else identity. Only
 * what the client lists counts (a `q=0` excludes); no header, or none we have, means identity.
 * Remembered per header value (the first 256 distinct values; others are parsed each time).
 */
export function chooseEncoding(header: string | undefined): ContentEncoding {
  if (!header) return 'identity'
  let chosen = chosenEncodings.get(header)
  if (chosen === undefined) {
    chosen = parseAcceptEncoding(header)
    if (chosenEncodings.size < CHOSEN_ENCODINGS_MAX && header.length <= 200) chosenEncodings.set(header, chosen)
  }
  return chosen
}

function parseAcceptEncoding(header: string): ContentEncoding {
  // The common headers in one comparison each (browsers send "gzip, deflate, br[, zstd]").
  let gzip = false
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';')
    const refused = params.some((param) => /^\s*q\s*=\s*0(\.0{0,3})?\s*$/.test(param))
    if (refused) continue
    if (name === 'br') return 'br'
    if (name === 'gzip' || name === 'x-gzip' || name === '*') gzip = true
  }
  return gzip ? 'gzip' : 'identity'
}

export function sendCached(request: FastifyRequest, reply: FastifyReply, cached: CachedBody): FastifyReply {
  const { entry } = cached
  const encoding = chooseEncoding(request.headers['accept-encoding'])
  const etag = encoding === 'br' ? entry.brEtag : encoding === 'gzip' ? entry.gzipEtag : entry.etag
  const vary = reply.getHeader('vary')
  void reply.header('etag', etag).header('cache-control', 'no-cache').header('vary', vary ? `${String(vary)}, Accept-Encoding` : 'Accept-Encoding')
  if (!cached.private) void reply.header('x-cache', cached.state)
  if (etagMatches(request.headers['if-none-match'], etag)) return reply.status(304).send()
  if (encoding !== 'identity') void reply.header('content-encoding', encoding)
  return reply.type('application/json; charset=utf-8').send(encoding === 'br' ? entry.br : encoding === 'gzip' ? entry.gzip : entry.identity)
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  return header.split(',').some((candidate) => candidate.trim() === etag)
}
