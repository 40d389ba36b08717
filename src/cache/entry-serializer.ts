// How bentocache stores our entries, in L1 and in Redis: one Buffer per entry, so the bytes sent
// to clients are stored as bytes (Redis holds them as they are, L1 holds one Buffer, and an entry
// read back is three views into it, not copies):
//
//   'B' | uint32 header length | header JSON | identity bytes | gzip bytes | brotli bytes
//
// The header carries bentocache's envelope (createdAt, logicalExpiration, tags), the ETag, the
// store time and the three lengths. Reading parses the small header only; the bodies are never
// touched. Redis is read with GETBUFFER (buffer-redis-driver.ts), so nothing is decoded to a
// string on the way. Values that are not entries are stored as `J<json>`.
//
// In memory (L1 and the local store) an entry is kept without its identity bytes, most of its
// size: `'C'` instead of `'B'`, the same header (its lengths still give the identity's), then
// the gzip and brotli bytes (compactForMemory, applied by memory-layer.ts to every value it
// stores). Such an entry decompresses its gzip bytes for the rare identity client, or when it is
// written back to a store, which always gets the full format.
//
// Older formats are still read, so an upgrade does not turn every key in Redis cold:
// `E<header>\n<body>` (body as text) and bentocache's default JSON envelope. Their bodies are
// compressed when they are read (synchronously, once per copy read) and rewritten in this
// format by the next reload.
import type { CacheSerializer } from 'bentocache/types'
import { CacheEntry, entryFromIdentitySync, type EntryStamp } from './cache-entry.ts'

/** An entry as read back from L1 or Redis: it carries its logical expiry. */
export interface StoredEntry extends CacheEntry {
  readonly logicalExpiration: number
}

/** True for an entry read back from a store whose logical expiry has passed. */
export function isStoredEntryExpired(entry: CacheEntry, now: number = Date.now()): boolean {
  const { logicalExpiration } = entry
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
  /** Byte lengths of identity, gzip and brotli, in that order. */
  lengths: [number, number, number]
  /** The entry's stamp (cache-entry.ts), each field only when set. */
  generation?: number
  validUntil?: number
  invalidated?: true
}

const BINARY = 0x42 // 'B'
const COMPACT = 0x43 // 'C': BINARY without the identity bytes (memory only)
const LEGACY_ENTRY = 'E'
const OTHER = 'J'

function serializeEntry(item: StoredItem, entry: CacheEntry): Buffer {
  // bentocache rewrites a stored value with a logical expiry already past only when expire()
  // marks it (or a failed reload backs off): from then on the value is never reused as it is
  // (docs/generations.md). An entry read back carries its own logicalExpiration; a new load does not.
  const invalidated = entry.stamp.invalidated === true || (entry.logicalExpiration !== undefined && item.logicalExpiration <= Date.now())
  // Only the fields below are written: a StoredEntry's own logicalExpiration is the item's.
  const header: EntryHeader = {
    createdAt: item.createdAt,
    logicalExpiration: item.logicalExpiration,
    ...(item.tags && item.tags.length > 0 ? { tags: item.tags } : {}),
    etag: entry.etag,
    storedAt: entry.storedAt,
    lengths: [entry.identity.byteLength, entry.gzip.byteLength, entry.br.byteLength],
    ...(entry.stamp.generation !== undefined ? { generation: entry.stamp.generation } : {}),
    ...(entry.stamp.validUntil !== undefined ? { validUntil: entry.stamp.validUntil } : {}),
    ...(invalidated ? { invalidated: true as const } : {}),
  }
  return Buffer.concat([headerBytes(header), entry.identityBytes(), entry.gzip, entry.br])
}

function headerBytes(header: EntryHeader, marker: number = BINARY): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8')
  const prefix = Buffer.allocUnsafe(5)
  prefix[0] = marker
  prefix.writeUInt32BE(json.byteLength, 1)
  return Buffer.concat([prefix, json])
}

function readHeader(stored: Buffer): { header: EntryHeader; headerEnd: number } {
  const headerEnd = 5 + stored.readUInt32BE(1)
  return { header: JSON.parse(stored.toString('utf8', 5, headerEnd)) as EntryHeader, headerEnd }
}

function stampOf({ generation, validUntil, invalidated }: EntryHeader): EntryStamp {
  return { ...(generation !== undefined ? { generation } : {}), ...(validUntil !== undefined ? { validUntil } : {}), ...(invalidated ? { invalidated } : {}) }
}

/**
 * The header of a binary entry (everything before its bodies) as the full format writes it, the
 * same for a compact copy in memory and the full entry in Redis; undefined for any other value.
 */
export function headerOf(stored: Buffer): Buffer | undefined {
  if (stored.byteLength < 5 || (stored[0] !== BINARY && stored[0] !== COMPACT)) return undefined
  const end = 5 + stored.readUInt32BE(1)
  if (end > stored.byteLength) return undefined
  if (stored[0] === BINARY) return stored.subarray(0, end)
  const header = Buffer.from(stored.subarray(0, end))
  header[0] = BINARY
  return header
}

/**
 * A stored value as memory keeps it: a binary entry without its identity bytes (a new, smaller
 * Buffer, so the full one can be collected); anything else as it is.
 */
export function compactForMemory<T extends Buffer | string>(stored: T): T {
  if (typeof stored === 'string' || stored[0] !== BINARY) return stored
  const { header, headerEnd } = readHeader(stored)
  const identityLength = header.lengths[0]
  if (identityLength === 0) return stored
  return compactFromParts([stored.subarray(0, headerEnd), stored.subarray(headerEnd + identityLength)]) as T
}

/**
 * The compact entry made of a full entry's header (marker included) and its bytes after the
 * identity bytes: what compactForMemory cuts out of a full entry, and what a Redis-side cut returns
 * (redis-fast-path.ts).
 */
export function compactFromParts(parts: readonly Buffer[]): Buffer {
  const [header, compressed] = parts
  if (parts.length !== 2 || !header || !compressed || header[0] !== BINARY) throw new Error('not the two parts of a binary entry')
  const compact = Buffer.concat([header, compressed])
  compact[0] = COMPACT
  return compact
}

/** The entry a header (headerOf) describes, without its bodies: enough to judge whether it can be reused. */
export function entryOfHeader(header: Buffer): CacheEntry | undefined {
  try {
    const { header: fields } = readHeader(header)
    const empty = Buffer.alloc(0)
    return new CacheEntry(empty, empty, empty, fields.etag, fields.storedAt, fields.logicalExpiration, stampOf(fields))
  } catch {
    return undefined
  }
}

function deserializeEntry(stored: Buffer): StoredItem {
  const { header, headerEnd } = readHeader(stored)
  const { etag, storedAt, lengths, generation: _generation, validUntil: _validUntil, invalidated: _invalidated, ...envelope } = header
  const [identityLength, gzipLength, brLength] = lengths
  const compact = stored[0] === COMPACT
  const identityEnd = compact ? headerEnd : headerEnd + identityLength
  const gzipEnd = identityEnd + gzipLength
  if (gzipEnd + brLength !== stored.byteLength) throw new Error(`cache entry of ${stored.byteLength} bytes does not match its header's lengths`)
  const identity = compact ? identityLength : stored.subarray(headerEnd, identityEnd)
  const value = new CacheEntry(identity, stored.subarray(identityEnd, gzipEnd), stored.subarray(gzipEnd), etag, storedAt, envelope.logicalExpiration, stampOf(header))
  return { ...envelope, value }
}

/**
 * A stored entry (this module's binary format) with a new life: the same bytes behind a header
 * whose creation time and logical expiry are rewritten. No body is parsed, hashed or compressed;
 * the only copy is the concatenation. Undefined for anything but a binary entry.
 */
export function withNewLife(stored: Buffer | string, createdAt: number, logicalExpiration: number): Buffer | undefined {
  if (typeof stored === 'string') return undefined
  const life = newLifeHeader(stored, createdAt, logicalExpiration)
  return life && Buffer.concat([life.header, stored.subarray(life.oldHeaderEnd)])
}

/**
 * withNewLife written over `stored` itself, when the new header is as long as the old one (the
 * times are 13-digit milliseconds, so it nearly always is): the bodies are not copied. True when
 * done; false leaves `stored` untouched (use withNewLife). Whoever cached a parse of `stored` must
 * drop it.
 */
export function renewInPlace(stored: Buffer, createdAt: number, logicalExpiration: number): boolean {
  const life = newLifeHeader(stored, createdAt, logicalExpiration)
  if (!life || life.header.byteLength !== life.oldHeaderEnd) return false
  life.header.copy(stored, 0)
  return true
}

/** The header `stored` (a binary entry, full or compact) would have with a new life, and where its old one ends. */
function newLifeHeader(stored: Buffer, createdAt: number, logicalExpiration: number): { header: Buffer; oldHeaderEnd: number } | undefined {
  if (stored[0] !== BINARY && stored[0] !== COMPACT) return undefined
  const { header, headerEnd } = readHeader(stored)
  return { header: headerBytes({ ...header, createdAt, logicalExpiration }, stored[0]), oldHeaderEnd: headerEnd }
}

interface LegacyEntry {
  body: string
  etag: string
  storedAt: number
}

function isLegacyEntry(value: unknown): value is LegacyEntry {
  const entry = value as Partial<LegacyEntry> | null
  return typeof entry === 'object' && entry !== null && typeof entry.body === 'string' && typeof entry.etag === 'string' && typeof entry.storedAt === 'number'
}

function deserializeText(stored: string): StoredItem {
  if (stored.startsWith(OTHER)) return JSON.parse(stored.slice(1)) as StoredItem
  if (stored.startsWith(LEGACY_ENTRY)) {
    const newline = stored.indexOf('\n')
    const { etag, storedAt, ...envelope } = JSON.parse(stored.slice(1, newline)) as Omit<EntryHeader, 'lengths'>
    return { ...envelope, value: entryFromIdentitySync(Buffer.from(stored.slice(newline + 1), 'utf8'), etag, storedAt, envelope.logicalExpiration) }
  }
  // bentocache's default serialiser (an entry stored before either format).
  const item = JSON.parse(stored) as StoredItem
  if (isLegacyEntry(item.value)) item.value = entryFromIdentitySync(Buffer.from(item.value.body, 'utf8'), item.value.etag, item.value.storedAt, item.logicalExpiration)
  return item
}

/** bentocache's types say serialise to a string; its memory driver and our Redis driver carry Buffers as they are. */
export const entrySerializer = {
  serialize(item: StoredItem): Buffer | string {
    if (item.value instanceof CacheEntry) return serializeEntry(item, item.value)
    return OTHER + JSON.stringify(item)
  },

  deserialize(stored: Buffer | string): StoredItem {
    if (typeof stored === 'string') return deserializeText(stored)
    if (stored[0] === BINARY || stored[0] === COMPACT) return deserializeEntry(stored)
    return deserializeText(stored.toString('utf8'))
  },
} satisfies Record<keyof CacheSerializer, unknown> as unknown as CacheSerializer & {
  serialize(item: StoredItem): Buffer | string
  deserialize(stored: Buffer | string): StoredItem
}
