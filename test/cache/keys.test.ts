// canonicalKey: one key per query, whatever order, duplicates or defaults the caller used,
// and never one key for two different queries.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { canonicalKey, type KeyParams, type KeyParamValue } from '../../src/cache/keys.ts'

const names = fc.constantFrom('district', 'type', 'gender', 'page', 'pageSize', 'q', 'a&b', 'x=y')
// Small alphabets on purpose: collisions (equal values, numbers spelled as strings) must happen often.
const scalar = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', '1', ',', '&', '=', '%', ' ', '中'), maxLength: 3 }),
  fc.integer({ min: 0, max: 3 }),
  fc.boolean(),
)
const listItem = fc.oneof(fc.string({ unit: fc.constantFrom('a', 'b', '1', ','), maxLength: 2 }), fc.integer({ min: 0, max: 3 }))
const value: fc.Arbitrary<KeyParamValue> = fc.oneof(scalar, fc.array(listItem, { maxLength: 4 }), fc.constant(undefined))
const params = fc.dictionary(names, value, { maxKeys: 5 })

/** The meaning of a query, written independently of the key format: name -> set of values. */
function meaning(query: KeyParams, defaults: KeyParams): string {
  const asSet = (item: KeyParamValue): string[] => (item === undefined ? [] : [...new Set((Array.isArray(item) ? item : [item]).map(String))].sort())
  const entries = Object.entries(query)
    .map(([name, item]) => [name, asSet(item)] as const)
    .filter(([name, values]) => values.length > 0 && JSON.stringify(values) !== JSON.stringify(asSet(defaults[name])))
    .sort(([left], [right]) => (left < right ? -1 : 1))
  return JSON.stringify(entries)
}

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items]
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = (seed * (index + 7)) % (index + 1)
    ;[copy[index], copy[other]] = [copy[other]!, copy[index]!]
  }
  return copy
}

test('parameter order does not matter', () => {
  fc.assert(fc.property(params, fc.nat(), (query, seed) => {
    const reordered = Object.fromEntries(shuffled(Object.entries(query), seed))
    assert.equal(canonicalKey('list', reordered), canonicalKey('list', query))
  }))
})

test('the order of list values and duplicates within them do not matter', () => {
  fc.assert(fc.property(params, fc.nat(), (query, seed) => {
    const scrambled = Object.fromEntries(Object.entries(query).map(([name, item]) => [name, Array.isArray(item) ? shuffled([...item, ...item], seed) : item]))
    assert.equal(canonicalKey('list', scrambled), canonicalKey('list', query))
  }))
})

test('defaults spelled out or omitted give the same key; absent and undefined are the same', () => {
  fc.assert(fc.property(params, params, (query, defaults) => {
    const spelledOut = { ...defaults, ...query }
    const withoutDefaults = Object.fromEntries(Object.entries(query).filter(([name, item]) => meaning({ [name]: item }, defaults) !== '[]'))
    const withUndefined = { ...query, unused: undefined }
    const expected = canonicalKey('list', query, defaults)
    assert.equal(canonicalKey('list', spelledOut, defaults), expected)
    assert.equal(canonicalKey('list', withoutDefaults, defaults), expected)
    assert.equal(canonicalKey('list', withUndefined, defaults), expected)
  }))
})

test('two queries share a key exactly when they mean the same thing', () => {
  fc.assert(fc.property(params, params, params, (left, right, defaults) => {
    const sameMeaning = meaning(left, defaults) === meaning(right, defaults)
    assert.equal(canonicalKey('list', left, defaults) === canonicalKey('list', right, defaults), sameMeaning)
  }), { numRuns: 2000 })
})

test('the namespace is part of the key', () => {
  assert.notEqual(canonicalKey('list:primary', { page: 2 }), canonicalKey('list:secondary', { page: 2 }))
  assert.equal(canonicalKey('stats', {}), 'stats')
})

test('keys stay readable and no value can forge a separator', () => {
  assert.equal(
    canonicalKey('list:primary', { page: 1, district: ['WC', 'CW', 'WC'], q: undefined, pageSize: 20 }, { page: 1, pageSize: 20 }),
    'list:primary?district=CW,WC',
  )
  assert.equal(canonicalKey('list', { q: 'a,b&c=d 中' }), 'list?q=a%2Cb%26c%3Dd%20%E4%B8%AD')
  assert.notEqual(canonicalKey('list', { district: ['a,b'] }), canonicalKey('list', { district: ['a', 'b'] }))
  assert.notEqual(canonicalKey('list', { a: 'x&b=y' }), canonicalKey('list', { a: 'x', b: 'y' }))
  assert.equal(canonicalKey('list', { page: 2 }), canonicalKey('list', { page: '2' }))
  assert.equal(canonicalKey('list', { district: ['CW'] }), canonicalKey('list', { district: 'CW' }))
  assert.equal(canonicalKey('list', { district: [] }), 'list')
})
