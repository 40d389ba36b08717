// The in-process layers (the shared keys' L1 and the local-only store) are LRUs this module
// creates and hands to bentocache's memory driver, instead of letting the driver create its
// own: holding them is what lets the cache count its keys, report their size and enumerate them
// for expireAll() and for re-expiring L1 after a bus outage. Entries stay serialised strings
// (bentocache's default): its `serialize: false` mode breaks once an L2 value is copied into L1
// (bentocache issue #111 in 1.6.1). Response bodies are kept compact, without their identity
// bytes (entry-serializer.ts): the LRU itself drops them on every write, whoever writes.
import { MemoryDriver } from 'bentocache/drivers/memory'
import type { CreateDriverResult, L1CacheDriver, MemoryConfig } from 'bentocache/types'
import { LRUCache } from 'lru-cache'
import { compactForMemory } from './entry-serializer.ts'

/** A serialised entry (entry-serializer.ts): one Buffer for response bodies, a string for anything else. */
export type StoredValue = string | Buffer

/** An LRU that stores every entry compact (compactForMemory). */
class CompactingLru extends LRUCache<string, StoredValue> {
  override set(key: string, value: StoredValue | undefined, options?: LRUCache.SetOptions<string, StoredValue, unknown>): this {
    return super.set(key, value === undefined ? value : compactForMemory(value), options)
  }
}

export type MemoryLru = LRUCache<string, StoredValue>

export function newMemoryLru(maxItems: number, maxBytes: number): MemoryLru {
  // bentocache's own settings (expired entries are dropped when read, no timers), plus a size
  // bound, since bodies range from bytes to megabytes. Size is a Buffer's bytes, or a string's
  // UTF-16 length: cheap, and close to what V8 holds.
  return new CompactingLru({
    max: maxItems,
    maxSize: maxBytes,
    sizeCalculation: (value) => Math.max(1, typeof value === 'string' ? value.length * 2 : value.byteLength),
    ttlAutopurge: false,
  })
}

/** A bentocache L1 layer backed by `lru`. */
export function memoryLayer(lru: MemoryLru): CreateDriverResult<L1CacheDriver> {
  // The driver's type says strings; it stores and returns whatever the serialiser produced, Buffers included.
  return { options: {}, factory: (config: MemoryConfig) => new MemoryDriver({ ...config, cacheInstance: lru as unknown as LRUCache<string, string> }) }
}

/** The cache keys held in `lru` for the store with `prefix`, without that prefix. */
export function keysInLru(lru: MemoryLru | undefined, prefix: string): string[] {
  if (!lru) return []
  const start = `${prefix}:`
  return [...lru.keys()].filter((key) => key.startsWith(start)).map((key) => key.slice(start.length))
}
