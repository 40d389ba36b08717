// The storage format: entries come back exactly as they went in, with the body stored as is
// (not escaped into JSON), and anything else still round-trips as JSON.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createEntry } from '../../src/cache/cache-entry.ts'
import { entrySerializer, isStoredEntryExpired } from '../../src/cache/entry-serializer.ts'

test('an entry round-trips, and its body is stored verbatim after a one-line header', () => {
  fc.assert(fc.property(fc.jsonValue(), fc.integer({ min: 0 }), fc.array(fc.string(), { maxLength: 2 }), (value, createdAt, tags) => {
    const entry = createEntry(value, createdAt)
    const item = { value: entry, createdAt, logicalExpiration: createdAt + 1000, ...(tags.length > 0 ? { tags } : {}) }
    const stored = entrySerializer.serialize(item)
    assert.ok(stored.endsWith(`\n${entry.body}`))
    assert.ok(!stored.slice(0, stored.length - entry.body.length - 1).includes('\n'), 'the header is one line')
    // Read back, the entry also carries the item's logical expiry (see isStoredEntryExpired).
    assert.deepEqual(entrySerializer.deserialize(stored), { ...item, value: { ...entry, logicalExpiration: item.logicalExpiration } })
  }))
})

test('a body full of newlines and quotes survives', () => {
  const entry = createEntry({ text: 'line 1\nline 2 "quoted" \\ 中文' })
  const item = { value: entry, createdAt: 1, logicalExpiration: 2 }
  assert.deepEqual(entrySerializer.deserialize(entrySerializer.serialize(item)), { ...item, value: { ...entry, logicalExpiration: 2 } })
})

test('an entry read back knows whether it is past its logical expiry; one made by a loader never is', () => {
  const entry = createEntry({ a: 1 })
  const read = (logicalExpiration: number) => entrySerializer.deserialize(entrySerializer.serialize({ value: entry, createdAt: 1, logicalExpiration })).value as typeof entry
  assert.equal(isStoredEntryExpired(read(1000), 999), false)
  assert.equal(isStoredEntryExpired(read(1000), 1000), true)
  assert.equal(isStoredEntryExpired(entry, Number.MAX_SAFE_INTEGER), false)
  // An entry stored by bentocache's default serialiser (plain JSON) carries its expiry too.
  const legacy = entrySerializer.deserialize(JSON.stringify({ value: entry, createdAt: 1, logicalExpiration: 5 })).value as typeof entry
  assert.equal(isStoredEntryExpired(legacy, 5), true)
})

test('values that are not entries round-trip as JSON, and plain JSON from the default serialiser is read', () => {
  const item = { value: 1_795_000_000_000, createdAt: 1, logicalExpiration: 2, tags: ['t'] }
  assert.deepEqual(entrySerializer.deserialize(entrySerializer.serialize(item)), item)
  assert.deepEqual(entrySerializer.deserialize(JSON.stringify(item)), item)
})
