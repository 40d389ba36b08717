// The hot path: a key's in-process copy, if it is there and within its TTL, read straight from
// the LRU that bentocache's memory driver holds (the same key and format bentocache reads).
// Going through getOrSet instead costs an L1 hit about three times as much: bentocache builds
// its per-call options object (a dozen closures and an id) on every call (`npm run bench`,
// read path). Anything else (no copy, a copy past its TTL, L1 off) goes through bentocache,
// which serves grace, reloads and locks.
import { LRUCache } from 'lru-cache'
import type { CacheEntry } from './cache-entry.ts'
import { entrySerializer, isStoredEntryExpired } from './entry-serializer.ts'
import type { MemoryLru, StoredValue } from './memory-layer.ts'

const MB = 1024 * 1024

export class L1FastPath {
  /**
   * The entry last parsed from each hot key's copy, with the copy it came from: while the copy
   * is unchanged (the same string), a hit reuses it instead of parsing its header again (the
   * largest cost left in an L1 hit, `npm run bench -- --profile`). Bounded apart from L1.
   */
  readonly #parsed = new LRUCache<string, { stored: StoredValue; entry: CacheEntry }>({ max: 5000, maxSize: 64 * MB, sizeCalculation: (parsed) => Math.max(1, typeof parsed.stored === 'string' ? parsed.stored.length * 2 : parsed.stored.byteLength) })

  constructor(private readonly lru: MemoryLru | undefined, private readonly prefix: string) {}

  /** The fresh copy of `key`, or undefined (none, or past its TTL). */
  fresh(key: string): CacheEntry | undefined {
    const entry = this.held(key)
    return entry && !isStoredEntryExpired(entry) ? entry : undefined
  }

  /** The copy of `key`, fresh or past its TTL, or undefined (none). */
  held(key: string): CacheEntry | undefined {
    const stored = this.lru?.get(`${this.prefix}:${key}`)
    if (stored === undefined) return undefined
    let parsed = this.#parsed.get(key)
    if (parsed?.stored !== stored) {
      parsed = { stored, entry: entrySerializer.deserialize(stored).value as CacheEntry }
      this.#parsed.set(key, parsed)
    }
    return parsed.entry
  }

  /** Drops the parse kept for `key`: its copy was rewritten in place (entry-renewal.ts). */
  forget(key: string): void {
    this.#parsed.delete(key)
  }

  /** Whether the LRU holds a copy of `key` (fresh or not), without touching its recency. */
  holds(key: string): boolean {
    return this.lru?.has(`${this.prefix}:${key}`) ?? false
  }
}
