// The storage format: an entry is one Buffer (header, identity, gzip and brotli bytes) that comes
// back as the same bytes (views into the stored Buffer, not copies), kept in memory without the
// identity bytes; anything else round-trips as JSON; entries in the formats before this one are
// still read, and compressed as they are.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import zlib from 'node:zlib'
import fc from 'fast-check'
import { CacheEntry, createEntry, strongEtag } from '../../src/cache/cache-entry.ts'
import { compactForMemory, compactFromParts, entrySerializer, headerOf, isStoredEntryExpired, renewInPlace, withNewLife } from '../../src/cache/entry-serializer.ts'

const decoded = (entry: CacheEntry) => ({
  identity: entry.identity.toString('utf8'),
  gzip: zlib.gunzipSync(entry.gzip).toString('utf8'),
  br: zlib.brotliDecompressSync(entry.br).toString('utf8'),
})

test('an entry round-trips: every encoding decodes to the JSON, the bytes come back unchanged, as views', async () => {
  await fc.assert(fc.asyncProperty(fc.jsonValue(), fc.integer({ min: 0 }), fc.array(fc.string(), { maxLength: 2 }), async (value, createdAt, tags) => {
    const entry = await createEntry(value, createdAt)
    const json = JSON.stringify(value)
    assert.deepEqual(decoded(entry), { identity: json, gzip: json, br: json })
    assert.equal(entry.body, json)
    assert.equal(entry.etag, strongEtag(json))
    assert.equal(entry.gzipEtag, `${entry.etag.slice(0, -1)}-gzip"`)
    assert.equal(entry.brEtag, `${entry.etag.slice(0, -1)}-br"`)
    const item = { value: entry, createdAt, logicalExpiration: createdAt + 1000, ...(tags.length > 0 ? { tags } : {}) }
    const stored = entrySerializer.serialize(item)
    assert.ok(Buffer.isBuffer(stored))
    const read = entrySerializer.deserialize(stored)
    const back = read.value as CacheEntry
    assert.deepEqual({ ...read, value: undefined }, { ...item, value: undefined })
    assert.ok(back.identity.equals(entry.identity) && back.gzip.equals(entry.gzip) && back.br.equals(entry.br))
    assert.equal(back.identity.buffer, (stored as Buffer).buffer, 'read back as views into the stored bytes')
    assert.deepEqual([back.etag, back.gzipEtag, back.brEtag, back.storedAt, back.logicalExpiration], [entry.etag, entry.gzipEtag, entry.brEtag, entry.storedAt, item.logicalExpiration])
  }), { numRuns: 60 })
})

/** An entry serialises to a Buffer (bentocache's type says string). */
function asBuffer(stored: unknown): Buffer {
  assert.ok(Buffer.isBuffer(stored))
  return stored
}

test('memory keeps an entry compact: without its identity bytes, decompressed when asked, written back in full', async () => {
  await fc.assert(fc.asyncProperty(fc.jsonValue(), fc.integer({ min: 0, max: 2 ** 40 }), async (value, createdAt) => {
    const entry = await createEntry(value, createdAt)
    const item = { value: entry, createdAt, logicalExpiration: Date.now() + 60_000 }
    const full = asBuffer(entrySerializer.serialize(item))
    const compact = compactForMemory(full)
    assert.equal(compact.byteLength, full.byteLength - entry.identity.byteLength)
    assert.ok(headerOf(compact)?.equals(headerOf(full)!), 'the same header as the full entry (renewal compares them)')
    const back = entrySerializer.deserialize(compact).value as CacheEntry
    assert.equal(back.holdsIdentity, false)
    assert.equal(back.identityLength, entry.identity.byteLength)
    assert.ok(back.gzip.equals(entry.gzip) && back.br.equals(entry.br))
    assert.ok(back.identity.equals(entry.identity))
    assert.equal(back.etag, entry.etag)
    assert.ok(asBuffer(entrySerializer.serialize({ ...item, value: back })).equals(full), 'written back to a store in the full format')
    assert.equal(compactForMemory(compact), compact)
    const renewed = withNewLife(compact, createdAt + 1, item.logicalExpiration + 1)!
    assert.equal((entrySerializer.deserialize(renewed).value as CacheEntry).logicalExpiration, item.logicalExpiration + 1)
    assert.equal(renewed.byteLength - compact.byteLength, (headerOf(renewed)?.byteLength ?? 0) - (headerOf(compact)?.byteLength ?? 0))
  }), { numRuns: 40 })
  assert.equal(compactForMemory('J{"value":1}'), 'J{"value":1}')
})

test('renewInPlace writes the new life over the copy itself when the header keeps its length, and leaves it untouched otherwise', async () => {
  const now = Date.now()
  const entry = await createEntry({ text: '中文', n: 1 }, now)
  const full = asBuffer(entrySerializer.serialize({ value: entry, createdAt: now, logicalExpiration: now + 60_000 }))
  for (const copy of [full, compactForMemory(full)]) {
    const expected = withNewLife(copy, now + 1000, now + 61_000)!
    const length = copy.byteLength
    assert.equal(renewInPlace(copy, now + 1000, now + 61_000), true)
    assert.ok(copy.equals(expected), 'the same bytes withNewLife makes')
    assert.equal(copy.byteLength, length)
    assert.equal((entrySerializer.deserialize(copy).value as CacheEntry).logicalExpiration, now + 61_000)
    const longer = Buffer.from(copy)
    assert.equal(renewInPlace(longer, now + 1000, Number.MAX_SAFE_INTEGER), false, 'a longer header does not fit')
    assert.ok(longer.equals(copy), 'a copy that cannot be renewed in place is left as it was')
  }
  assert.equal(renewInPlace(Buffer.from('J{"value":1}'), now, now), false)
})

test('a body full of newlines, quotes and Chinese survives', async () => {
  const entry = await createEntry({ text: 'line 1\nline 2 "quoted" \\ 中文' })
  const back = entrySerializer.deserialize(entrySerializer.serialize({ value: entry, createdAt: 1, logicalExpiration: 2 })).value as CacheEntry
  assert.equal(back.body, entry.body)
})

test('an entry read back knows whether it is past its logical expiry; one made by a loader never is', async () => {
  const entry = await createEntry({ a: 1 })
  const read = (logicalExpiration: number) => entrySerializer.deserialize(entrySerializer.serialize({ value: entry, createdAt: 1, logicalExpiration })).value as CacheEntry
  assert.equal(isStoredEntryExpired(read(1000), 999), false)
  assert.equal(isStoredEntryExpired(read(1000), 1000), true)
  assert.equal(isStoredEntryExpired(entry, Number.MAX_SAFE_INTEGER), false)
})

test('entries of the earlier formats are read, from a string or from Redis bytes, and get their compressed forms', () => {
  const body = JSON.stringify({ name: '中華基督教會基慧小學', n: 1 })
  const etag = strongEtag(body)
  const textFormat = `E${JSON.stringify({ createdAt: 1, logicalExpiration: 5, etag, storedAt: 1 })}\n${body}`
  const defaultFormat = JSON.stringify({ value: { body, etag, storedAt: 1 }, createdAt: 1, logicalExpiration: 5 })
  for (const stored of [textFormat, Buffer.from(textFormat), defaultFormat, Buffer.from(defaultFormat)]) {
    const entry = entrySerializer.deserialize(stored).value as CacheEntry
    assert.ok(entry instanceof CacheEntry)
    assert.deepEqual(decoded(entry), { identity: body, gzip: body, br: body })
    assert.equal(entry.etag, etag)
    assert.equal(isStoredEntryExpired(entry, 5), true)
  }
})

test('values that are not entries round-trip as JSON, and plain JSON from the default serialiser is read', () => {
  const item = { value: 1_795_000_000_000, createdAt: 1, logicalExpiration: 2, tags: ['t'] }
  assert.deepEqual(entrySerializer.deserialize(entrySerializer.serialize(item)), item)
  assert.deepEqual(entrySerializer.deserialize(JSON.stringify(item)), item)
  assert.deepEqual(entrySerializer.deserialize(Buffer.from(JSON.stringify(item))), item)
})

test('a truncated entry is refused, never served short', async () => {
  const stored = entrySerializer.serialize({ value: await createEntry({ a: 'b'.repeat(100) }), createdAt: 1, logicalExpiration: 2 }) as unknown as Buffer
  assert.throws(() => entrySerializer.deserialize(stored.subarray(0, stored.length - 3)), /does not match/)
})

test('a compact entry made from the two parts a Redis-side cut returns is the one memory keeps; other parts are refused', async () => {
  const entry = await createEntry({ items: ['學校', 'school'] }, 1000)
  const stored = asBuffer(entrySerializer.serialize({ value: entry, createdAt: 1000, logicalExpiration: 2000 }))
  const headerEnd = headerOf(stored)!.byteLength
  const parts = [stored.subarray(0, headerEnd), stored.subarray(headerEnd + entry.identity.byteLength)]
  assert.ok(compactFromParts(parts).equals(compactForMemory(stored)))
  assert.throws(() => compactFromParts([parts[0]!]), /two parts/)
  assert.throws(() => compactFromParts([Buffer.from('J{}'), parts[1]!]), /two parts/)
})
