// How bentocache stores our entries, in L1 and in Redis. Its default serialiser JSON-encodes the
// whole envelope, so the body (already JSON) is escaped into a JSON string on write and
// unescaped by JSON.parse on every read, L1 hits included: for a 30 kB list page that parse is
// most of a hit's cost. Here an entry is stored as a small JSON header, a newline, then the body
// as it is: a read parses the header and slices the body off, so a hit never touches its bytes.
// (JSON.stringify escapes newlines, so the first newline always ends the header.)
// bentocache's `serialize: false` L1 mode would avoid the parse too, but it breaks once a value
// read from Redis is copied into L1 (bentocache issue #111, still open in 1.6.1).
import type { CacheSerializer } from 'bentocache/types'
import type { CacheEntry } from './cache-entry.ts'

/**
 * An entry as read back from L1 or Redis. It carries its logical expiry, so a reader can tell
 * a fresh value from one served within its grace without asking bentocache (see
 * ResponseCache.getOrLoad).
 */
export interface StoredEntry extends CacheEntry {
  readonly logicalExpiration: number
}

/** True for an entry read back from a store whose logical expiry has passed. */
export function isStoredEntryExpired(entry: CacheEntry, now: number = Date.now()): boolean {
  const { logicalExpiration } = entry as Partial<StoredEntry>
  return logicalExpiration !== undefined && now >= logicalExpiration
}

/** The envelope bentocache hands to a serialiser. */
interface StoredItem {
  value: unknown
  createdAt: number
  logicalExpiration: number
  tags?: string[]
}

interface EntryHeader {
  createdAt: number
  logicalExpiration: number
  tags?: string[]
  etag: string
  storedAt: number
}

const ENTRY = 'E'
const OTHER = 'J'

function isCacheEntry(value: unknown): value is CacheEntry {
  const entry = value as Partial<CacheEntry> | null
  return typeof entry === 'object' && entry !== null && typeof entry.body === 'string' && typeof entry.etag === 'string' && typeof entry.storedAt === 'number'
}

export const entrySerializer: CacheSerializer = {
  serialize(item: StoredItem): string {
    if (!isCacheEntry(item.value)) return OTHER + JSON.stringify(item)
    // Only the fields below are written: a StoredEntry's own logicalExpiration is the item's.
    const header: EntryHeader = {
      createdAt: item.createdAt,
      logicalExpiration: item.logicalExpiration,
      ...(item.tags && item.tags.length > 0 ? { tags: item.tags } : {}),
      etag: item.value.etag,
      storedAt: item.value.storedAt,
    }
    return `${ENTRY}${JSON.stringify(header)}\n${item.value.body}`
  },

  deserialize(stored: string): StoredItem {
    if (stored.startsWith(OTHER)) return JSON.parse(stored.slice(1)) as StoredItem
    if (!stored.startsWith(ENTRY)) {
      // Written by bentocache's default serialiser (an entry stored before this format).
      const item = JSON.parse(stored) as StoredItem
      if (isCacheEntry(item.value)) item.value = { ...item.value, logicalExpiration: item.logicalExpiration }
      return item
    }
    const newline = stored.indexOf('\n')
    const { etag, storedAt, ...envelope } = JSON.parse(stored.slice(1, newline)) as EntryHeader
    const value: StoredEntry = { body: stored.slice(newline + 1), etag, storedAt, logicalExpiration: envelope.logicalExpiration }
    return { ...envelope, value }
  },
}
