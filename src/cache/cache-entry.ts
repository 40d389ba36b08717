// What the cache stores: the response body serialised once, as bytes, in the three encodings a
// client may ask for (identity UTF-8, gzip, brotli), and a strong ETag per encoding. Serialising
// and compressing once, when the loader runs, is what makes a hit cheap: the HTTP layer sends
// the stored bytes that match Accept-Encoding and compares If-None-Match with a stored string,
// with no JSON.stringify and no compression per request.
//
// Levels, chosen by measuring the real bodies (README, "Compression"): gzip 6 and brotli 5.
// Higher brotli qualities save 5-15% more bytes at 2-50x the CPU, paid by every warmup for
// every key; lower ones lose 5-10%. Compression runs on libuv's thread pool (zlib's async API),
// not on the event loop that serves requests.
import { createHash } from 'node:crypto'
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { LRUCache } from 'lru-cache'

export type ContentEncoding = 'identity' | 'gzip' | 'br'

export const GZIP_LEVEL = 6
export const BROTLI_QUALITY = 5

const gzip = promisify(zlib.gzip)
const brotli = promisify(zlib.brotliCompress)

// The window is fitted to the body (2^lgwin >= its size) rather than brotli's default 4 MB: a
// body is at most a few hundred KB, so the output is the same, but the encoder's ring buffer and
// hash tables shrink from megabytes to a few hundred KB per call (about 20% less CPU, and less
// memory that the thread pool's malloc arenas keep after a warmup).
const BROTLI_MIN_LGWIN = 10
const BROTLI_MAX_LGWIN = 24

function brotliOptions(size: number): zlib.BrotliOptions {
  const fittedWindow = Math.min(BROTLI_MAX_LGWIN, Math.max(BROTLI_MIN_LGWIN, Math.ceil(Math.log2(size + 1))))
  return {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size,
      [zlib.constants.BROTLI_PARAM_LGWIN]: fittedWindow,
    },
  }
}

/**
 * What an entry records about the data it was built from (docs/generations.md): the data
 * generation its load saw, and for values that depend on the clock, the moment they stop being
 * true. `invalidated` is set once expire()/expireAll() has marked the stored copy: such a value
 * may still be served stale, but never reused as it is.
 */
export interface EntryStamp {
  readonly generation?: number
  /** Epoch milliseconds after which the value is no longer what a load would produce. */
  readonly validUntil?: number
  readonly invalidated?: boolean
}

/**
 * A loader's value that is true only until `validUntil` (epoch ms): e.g. a school's detail says
 * which application windows are open now. The cache stores `value` and records the deadline.
 */
export class ClockBound {
  constructor(readonly value: unknown, readonly validUntil: number | undefined) {}
}

/**
 * Identity bodies decompressed for entries read from memory without them (see CacheEntry), by
 * ETag: a strong hash of those very bytes, so entries of equal bodies share one. Clients that
 * accept no compression are few (curl, some bots); this keeps what they ask for, up to 16 MB.
 */
const decompressedIdentities = new LRUCache<string, Buffer>({ max: 2000, maxSize: 16 * 1024 * 1024, sizeCalculation: (body) => Math.max(1, body.byteLength) })

export class CacheEntry {
  /** The ETag of the gzip bytes: the identity ETag with `-gzip` inside the quotes. */
  readonly gzipEtag: string
  /** The ETag of the brotli bytes: the identity ETag with `-br` inside the quotes. */
  readonly brEtag: string
  /** Bytes of the identity body, held or not. */
  readonly identityLength: number
  readonly #identity: Buffer | undefined

  constructor(
    /**
     * The JSON document as UTF-8 bytes, exactly what an identity client receives; or only its
     * length, for an entry read from memory, which keeps the compressed bodies alone (the
     * identity bytes are most of an entry, and few clients ask for them): `identity` then
     * decompresses the gzip bytes when asked.
     */
    identity: Buffer | number,
    readonly gzip: Buffer,
    readonly br: Buffer,
    /** Strong validator of the identity bytes: a quoted hash, so equal bodies get equal ETags on every instance. */
    readonly etag: string,
    /** Epoch milliseconds when the loader produced this body. */
    readonly storedAt: number,
    /** Set on an entry read back from L1 or Redis: when its TTL ends (see entry-serializer.ts). */
    readonly logicalExpiration?: number,
    readonly stamp: EntryStamp = {},
  ) {
    this.gzipEtag = `${etag.slice(0, -1)}-gzip"`
    this.brEtag = `${etag.slice(0, -1)}-br"`
    this.#identity = typeof identity === 'number' ? undefined : identity
    this.identityLength = typeof identity === 'number' ? identity : identity.byteLength
  }

  /** The identity bytes: held, or decompressed once per ETag and kept (a bounded LRU) for the next identity client. */
  get identity(): Buffer {
    if (this.#identity) return this.#identity
    let body = decompressedIdentities.get(this.etag)
    if (body === undefined) {
      body = this.#decompressIdentity()
      decompressedIdentities.set(this.etag, body)
    }
    return body
  }

  /** Whether the identity bytes are held (not decompressed on demand). */
  get holdsIdentity(): boolean {
    return this.#identity !== undefined
  }

  /** The identity bytes, held or decompressed now without being kept (writing the entry back to a store). */
  identityBytes(): Buffer {
    return this.#identity ?? decompressedIdentities.get(this.etag) ?? this.#decompressIdentity()
  }

  #decompressIdentity(): Buffer {
    const body = zlib.gunzipSync(this.gzip)
    if (body.byteLength !== this.identityLength) throw new Error(`cache entry ${this.etag}: gzip bytes decode to ${body.byteLength} bytes, not ${this.identityLength}`)
    return body
  }

  /** The body as text, decoded on each call: for tests and the rare reader that parses a body, never for sending. */
  get body(): string {
    return this.identityBytes().toString('utf8')
  }
}

/** `"<sha1 of body, base64url>"`: strong, 29 characters, the same in every process. */
export function strongEtag(body: string | Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

/**
 * Serialises and compresses what a loader returned (a ClockBound: its value, with its deadline
 * recorded). A loader must return something JSON can represent. `generation` is the data
 * generation known when the load began.
 */
export async function createEntry(value: unknown, now: number = Date.now(), generation?: number): Promise<CacheEntry> {
  const validUntil = value instanceof ClockBound ? value.validUntil : undefined
  const data = value instanceof ClockBound ? value.value : value
  const text = JSON.stringify(data) as string | undefined
  if (text === undefined) {
    // undefined, a function or a symbol: a bug in the loader, not a cacheable answer.
    throw new TypeError(`A cache loader returned ${typeof data}, which has no JSON form`)
  }
  const stamp: EntryStamp = { ...(generation !== undefined ? { generation } : {}), ...(validUntil !== undefined ? { validUntil } : {}) }
  return entryFromIdentity(Buffer.from(text, 'utf8'), now, undefined, stamp)
}

/** An entry for bytes already serialised: compresses them (off the event loop) and hashes them. */
export async function entryFromIdentity(identity: Buffer, storedAt: number, logicalExpiration?: number, stamp?: EntryStamp): Promise<CacheEntry> {
  const [gzipped, brotlied] = await Promise.all([gzip(identity, { level: GZIP_LEVEL }), brotli(identity, brotliOptions(identity.length))])
  return new CacheEntry(identity, gzipped, brotlied, strongEtag(identity), storedAt, logicalExpiration, stamp)
}

/** The same, synchronously: only for entries in a format older than this one, read back once after an upgrade. */
export function entryFromIdentitySync(identity: Buffer, etag: string, storedAt: number, logicalExpiration?: number): CacheEntry {
  const gzipped = zlib.gzipSync(identity, { level: GZIP_LEVEL })
  const brotlied = zlib.brotliCompressSync(identity, brotliOptions(identity.length))
  return new CacheEntry(identity, gzipped, brotlied, etag, storedAt, logicalExpiration)
}
