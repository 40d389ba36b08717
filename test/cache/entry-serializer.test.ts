// The storage format: entries come back exactly as they went in, with the body stored as is
// (not escaped into JSON), and anything else still round-trips as JSON.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createEntry } from '../../src/cache/cache-entry.ts'
import { entrySerializer } from '../../src/cache/entry-serializer.ts'

test('an entry round-trips, and its body is stored verbatim after a one-line header', () => {
  fc.assert(fc.property(fc.jsonValue(), fc.integer({ min: 0 }), fc.array(fc.string(), { maxLength: 2 }), (value, createdAt, tags) => {
    const entry = createEntry(value, createdAt)
    const item = { value: entry, createdAt, logicalExpiration: createdAt + 1000, ...(tags.length > 0 ? { tags } : {}) }
    const stored = entrySerializer.serialize(item)
    assert.ok(stored.endsWith(`\n${entry.body}`))
    assert.ok(!stored.slice(0, stored.length - entry.body.length - 1).includes('\n'), 'the header is one line')
    assert.deepEqual(entrySerializer.deserialize(stored), item)
  }))
})

test('a body full of newlines and quotes survives', () => {
  const entry = createEntry({ text: 'line 1\nline 2 "quoted" \\ 中文' })
  const item = { value: entry, createdAt: 1, logicalExpiration: 2 }
  assert.deepEqual(entrySerializer.deserialize(entrySerializer.serialize(item)), item)
})

test('values that are not entries round-trip as JSON, and plain JSON from the default serialiser is read', () => {
  const item = { value: 1_795_000_000_000, createdAt: 1, logicalExpiration: 2, tags: ['t'] }
  assert.deepEqual(entrySerializer.deserialize(entrySerializer.serialize(item)), item)
  assert.deepEqual(entrySerializer.deserialize(JSON.stringify(item)), item)
})
