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
//
// Reads are batched per turn of the event loop: under load a turn parses several requests, and
// one script call for all their keys costs one command, one socket write and one reply instead of
// one each (docs/cache.md, "The fast paths").
import type { Redis } from 'ioredis'
import { CacheEntry } from './cache-entry.ts'
import { compactFromParts, entrySerializer, isStoredEntryExpired } from './entry-serializer.ts'

/**
 * Each KEYS[i]'s value: as two parts, its header and its bytes after the identity bytes, when it
 * is a binary entry ('B'); else the value as it is; false (nil) when there is none or it is not a
 * string. The first 512 bytes hold the header unless it carries many tags (then read again). Two
 * parts rather than one string: joining them in Lua cost Redis a third more CPU (28 against 19 µs
 * a read). pcall: a key of another type is no value, not an error for the whole call.
 */
const COMPACT_READ_SCRIPT = `
local values = {}
for i, key in ipairs(KEYS) do
  local head = redis.pcall('GETRANGE', key, 0, 511)
  if type(head) ~= 'string' or head == '' then
    values[i] = false
  elseif string.byte(head, 1) ~= 66 then
    values[i] = redis.call('GET', key)
  else
    local headerEnd = 5 + struct.unpack('>I4', string.sub(head, 2, 5))
    if headerEnd > #head then head = redis.call('GETRANGE', key, 0, headerEnd - 1) end
    local identityLength = cjson.decode(string.sub(head, 6, headerEnd)).lengths[1]
    values[i] = { string.sub(head, 1, headerEnd), redis.call('GETRANGE', key, headerEnd + identityLength, -1) }
  end
end
return values
`

type StoredValue = Buffer | Buffer[] | null
type CompactReading = Redis & { readCompactEntriesBuffer(keyCount: number, ...keys: string[]): Promise<StoredValue[]> }

/**
 * Most keys one script call reads. Under load one turn of the event loop parses many requests;
 * more than this many become several calls, so no single call keeps Redis busy for long.
 */
export const MAX_KEYS_PER_READ = 64

export class RedisFastPath {
  readonly #redis: CompactReading
  /** Keys asked for since the last read, each with the requests waiting for it. */
  #pending = new Map<string, Array<(entry: CacheEntry | undefined) => void>>()

  /**
   * `settled`: Redis is reachable and not in the window after an outage in which it may still
   * hold values invalidated meanwhile (redis-health.ts); until then bentocache decides.
   */
  constructor(redis: Redis, private readonly prefix: string, private readonly settled: () => boolean) {
    // ioredis sends it by SHA, loading it again on NOSCRIPT (a restarted or flushed Redis).
    redis.defineCommand('readCompactEntries', { lua: COMPACT_READ_SCRIPT })
    this.#redis = redis as CompactReading
  }

  /**
   * The fresh value of `key` in Redis, or undefined (none, past its TTL, Redis not settled, or an
   * error). The keys asked for in one turn of the event loop are read together, in one script
   * call, and a key asked for by several requests is read once for all of them: one command, one
   * write and one reply for what a turn parsed, instead of one per request.
   */
  fresh(key: string): Promise<CacheEntry | undefined> {
    if (this.#redis.status !== 'ready' || !this.settled()) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const waiting = this.#pending.get(key)
      if (waiting) {
        waiting.push(resolve)
        return
      }
      this.#pending.set(key, [resolve])
      if (this.#pending.size === 1) setImmediate(this.#readPending)
      else if (this.#pending.size >= MAX_KEYS_PER_READ) this.#readPending()
    })
  }

  readonly #readPending = (): void => {
    const reads = this.#pending
    if (reads.size === 0) return
    this.#pending = new Map()
    const keys = [...reads.keys()]
    this.#redis.readCompactEntriesBuffer(keys.length, ...keys.map((key) => `${this.prefix}:${key}`)).then(
      (values) => keys.forEach((key, index) => {
        const entry = freshEntry(values[index])
        for (const resolve of reads.get(key)!) resolve(entry)
      }),
      () => {
        for (const waiting of reads.values()) for (const resolve of waiting) resolve(undefined)
      },
    )
  }
}

function freshEntry(stored: StoredValue | undefined): CacheEntry | undefined {
  if (stored === null || stored === undefined) return undefined
  let entry: unknown
  try {
    entry = entrySerializer.deserialize(Array.isArray(stored) ? compactFromParts(stored) : stored).value
  } catch {
    return undefined // bentocache's read reports it
  }
  return entry instanceof CacheEntry && !isStoredEntryExpired(entry) ? entry : undefined
}
