// The hot path of an instance without L1 (CACHE_L1=false): a key's fresh value read straight from
// Redis as bytes and sent as they are, the Redis counterpart of l1-fast-path.ts. Through
// bentocache the same hit costs about twice the CPU: it builds its per-call options (a dozen
// closures and an id) and its promise chain on every call (`npm run bench`, "Redis only").
// Anything else (no value, a value past its TTL, Redis not settled) goes through bentocache,
// which serves grace, reloads under its lock and applies its circuit breaker.
//
// The value is read in its compact form (entry-serializer.ts): a script cuts the identity bytes,
// 70% of a list page, out inside Redis, so a hit moves the header and the gzip and brotli bytes
// only (a page of 20: 7.5 instead of 27 KB). Nearly every client accepts compression; an
// identity client gets the gzip bytes decompressed, once per ETag (cache-entry.ts). Fewer bytes
// per hit is less to read, and less garbage for V8 to collect (`npm run bench`, "Redis only").
import type { Redis } from 'ioredis'
import { CacheEntry } from './cache-entry.ts'
import { compactFromParts, entrySerializer, isStoredEntryExpired } from './entry-serializer.ts'

/**
 * KEYS[1]'s value as two parts, its header and its bytes after the identity bytes, when it is a
 * binary entry ('B'); else the value as it is; nil when there is none. Its first 512 bytes hold
 * the header unless it carries many tags (then read again). Two parts rather than one string:
 * joining them in Lua cost Redis a third more CPU per call (28 against 19 µs).
 */
const COMPACT_READ_SCRIPT = `
local head = redis.call('GETRANGE', KEYS[1], 0, 511)
if head == '' then return false end
if string.byte(head, 1) ~= 66 then return redis.call('GET', KEYS[1]) end
local headerEnd = 5 + struct.unpack('>I4', string.sub(head, 2, 5))
if headerEnd > #head then head = redis.call('GETRANGE', KEYS[1], 0, headerEnd - 1) end
local identityLength = cjson.decode(string.sub(head, 6, headerEnd)).lengths[1]
return { string.sub(head, 1, headerEnd), redis.call('GETRANGE', KEYS[1], headerEnd + identityLength, -1) }
`

type CompactReading = Redis & { readCompactEntryBuffer(key: string): Promise<Buffer | Buffer[] | null> }

export class RedisFastPath {
  readonly #redis: CompactReading

  /**
   * `settled`: Redis is reachable and not in the window after an outage in which it may still
   * hold values invalidated meanwhile (redis-health.ts); until then bentocache decides.
   */
  constructor(redis: Redis, private readonly prefix: string, private readonly settled: () => boolean) {
    // ioredis sends it by SHA, loading it again on NOSCRIPT (a restarted or flushed Redis).
    redis.defineCommand('readCompactEntry', { numberOfKeys: 1, lua: COMPACT_READ_SCRIPT })
    this.#redis = redis as CompactReading
  }

  /** The fresh value of `key` in Redis, or undefined (none, past its TTL, Redis not settled, or an error). */
  async fresh(key: string): Promise<CacheEntry | undefined> {
    if (this.#redis.status !== 'ready' || !this.settled()) return undefined
    let stored: Buffer | Buffer[] | null
    try {
      stored = await this.#redis.readCompactEntryBuffer(`${this.prefix}:${key}`)
    } catch {
      return undefined
    }
    if (stored === null) return undefined
    let entry: unknown
    try {
      entry = entrySerializer.deserialize(Array.isArray(stored) ? compactFromParts(stored) : stored).value
    } catch {
      return undefined // bentocache's read reports it
    }
    return entry instanceof CacheEntry && !isStoredEntryExpired(entry) ? entry : undefined
  }
}
