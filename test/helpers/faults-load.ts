// What the fault tests ask a running server and how they judge the answers: the URLs the
// boot warmup keeps warm (read from the same config file the server reads), a steady request
// stream with a bounded number of workers, and a check that a value left in Redis is a whole
// cache entry.
import { createHash } from 'node:crypto'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { CacheEntry } from '../../src/cache/cache-entry.ts'
import { entrySerializer } from '../../src/cache/entry-serializer.ts'
import { PROJECT_ROOT } from '../../src/config.ts'
import type { HttpResult } from './faults-server.ts'
import { headerOf } from './process-server.ts'
import { delay } from './wait.ts'

/**
 * The list URLs of config/warm-targets.json (banding entries left out: the bundled data has no
 * banding, so those are skipped by the warmup), plus filter options and stats.
 */
export function warmUrls(): string[] {
  const config = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'config', 'warm-targets.json'), 'utf8')) as Record<string, unknown>
  const urls: string[] = []
  for (const level of ['primary', 'secondary']) {
    for (const entry of config[level] as Record<string, unknown>[]) {
      if ('banding' in entry) continue
      const params = new URLSearchParams()
      for (const [name, value] of Object.entries(entry)) {
        if (name === 'name') continue
        for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item))
      }
      const query = params.toString()
      urls.push(`/api/schools/${level}${query ? `?${query}` : ''}`)
    }
  }
  return [...urls, '/api/schools/filters?level=primary', '/api/schools/filters?level=secondary', '/api/schools/stats']
}

export interface ListItem {
  schoolNo: string
  nameEn: string
  nameZh: string
}

export interface ListPage {
  items: ListItem[]
  page: number
  pageSize: number
  total: number
  totalPages: number
}

/** Every school of a level in API order, read page by page (pageSize 100). */
export async function wholeLevel(get: (url: string) => Promise<HttpResult>, level: 'primary' | 'secondary'): Promise<ListItem[]> {
  const items: ListItem[] = []
  for (let page = 1; page <= 20; page += 1) {
    const response = await get(`/api/schools/${level}?pageSize=100&page=${page}`)
    if (response.status !== 200) throw new Error(`${level} page ${page}: ${response.status} ${response.body.slice(0, 200)}`)
    const body = JSON.parse(response.body) as ListPage
    items.push(...body.items)
    if (page >= body.totalPages) return items
  }
  throw new Error(`${level}: more than 20 pages of 100`)
}

/** One answer of the stream, judged when it arrives. */
export interface StreamRecord {
  /** The phase when the request was sent. */
  phase: string
  /** The phase when its answer (or failure) arrived: a request sent just before a phase change may be answered after it. */
  answeredIn: string
  url: string
  status: number
  cache: string | null
  /** Why the answer is wrong; undefined when it is right. */
  problem: string | undefined
}

export interface StreamRequest {
  url: string
  /** Returns a problem description, or undefined when the body is what it must be. */
  judge(result: HttpResult): string | undefined
}

/**
 * Keeps `workers` requests in flight, taking the next request from `next`, until stop() is
 * called or `maxRequests` have been sent. Each request has its own timeout; a failed request
 * is recorded (status 0), never thrown.
 */
export class RequestStream {
  readonly records: StreamRecord[] = []
  phase = 'before'
  #stopped = false
  #sent = 0
  readonly #done: Promise<void>

  constructor(
    private readonly get: (url: string, timeoutMs: number) => Promise<HttpResult>,
    private readonly next: (index: number) => StreamRequest,
    options: { workers: number; maxRequests: number; timeoutMs: number; pauseMs?: number },
  ) {
    const worker = async (): Promise<void> => {
      while (!this.#stopped && this.#sent < options.maxRequests) {
        const request = this.next(this.#sent)
        this.#sent += 1
        const phase = this.phase
        try {
          const result = await this.get(request.url, options.timeoutMs)
          const problem = result.status === 200 ? request.judge(result) : `status ${result.status}: ${result.body.slice(0, 200)}`
          this.records.push({ phase, answeredIn: this.phase, url: request.url, status: result.status, cache: headerOf(result, 'x-cache'), problem })
        } catch (error) {
          this.records.push({ phase, answeredIn: this.phase, url: request.url, status: 0, cache: null, problem: `request failed: ${error instanceof Error ? error.message : String(error)}` })
        }
        // A little air between requests so the stream does not starve the server on 2 cores.
        if (options.pauseMs) await delay(options.pauseMs)
      }
    }
    this.#done = Promise.all(Array.from({ length: options.workers }, worker)).then(() => undefined)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#done
  }

  inPhase(phase: string): StreamRecord[] {
    return this.records.filter((record) => record.phase === phase)
  }

  problems(): StreamRecord[] {
    return this.records.filter((record) => record.problem !== undefined)
  }

  /** Per phase: requests and x-cache counts, for the test's diagnostic output. */
  summary(): string {
    const phases = [...new Set(this.records.map((record) => record.phase))]
    return phases.map((phase) => {
      const records = this.inPhase(phase)
      const counts = new Map<string, number>()
      for (const record of records) counts.set(String(record.cache ?? record.status), (counts.get(String(record.cache ?? record.status)) ?? 0) + 1)
      return `${phase}: ${records.length} requests (${[...counts].map(([name, count]) => `${name} ${count}`).join(', ')})`
    }).join('; ')
  }
}

/** The strong ETag the cache computes, recomputed here independently: quoted base64url SHA-1 of the body. */
export function expectedEtag(body: string, contentEncoding?: string | null): string {
  const hash = createHash('sha1').update(body).digest('base64url')
  // Compressed representations have their own strong ETag: the identity hash with the encoding.
  return contentEncoding === 'br' || contentEncoding === 'gzip' ? `"${hash}-${contentEncoding}"` : `"${hash}"`
}

/**
 * Why a raw Redis value under the cache prefix is not a complete entry (undefined when it is).
 * It is decoded the way the server decodes it (the cache's own serialiser), then checked
 * independently: an envelope with its expiry, the body valid JSON and the ETag the hash of
 * exactly that body. A write cut short fails one of these.
 */
export function incompleteEntry(raw: Buffer | string | null): string | undefined {
  if (raw === null) return 'no value'
  let envelope: { value?: CacheEntry; logicalExpiration?: unknown }
  try {
    envelope = entrySerializer.deserialize(raw) as typeof envelope
  } catch {
    return `cannot be decoded: ${raw.slice(0, 80).toString()}`
  }
  const entry = envelope.value
  if (typeof envelope.logicalExpiration !== 'number') return 'no logicalExpiration'
  if (!(entry instanceof CacheEntry) || typeof entry.etag !== 'string' || typeof entry.storedAt !== 'number') return 'envelope without an entry { identity, gzip, br, etag, storedAt }'
  try {
    JSON.parse(entry.body)
  } catch {
    return 'body is not JSON'
  }
  try {
    if (!gunzipSync(entry.gzip).equals(entry.identity)) return 'gzip bytes do not decode to the body'
    if (!brotliDecompressSync(entry.br).equals(entry.identity)) return 'brotli bytes do not decode to the body'
  } catch {
    return 'compressed bytes cannot be decoded'
  }
  return entry.etag === expectedEtag(entry.body) ? undefined : 'etag does not match the body'
}
