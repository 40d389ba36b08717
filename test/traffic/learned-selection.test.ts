// Which learned keys a warmup takes: enough to reach the coverage target, within maxKeys, the
// already-warm keys counting towards the target for free, pins first, exclusions never.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { keyMatcher, selectLearned } from '../../src/traffic/learned-selection.ts'

const row = (key: string, requests: number) => ({ key, requestClass: 'lists', requests, misses: 0 })
const candidates = [row('a', 50), row('warm', 30), row('b', 10), row('c', 6), row('d', 4)]

test('takes the most requested keys until the target share is covered', () => {
  const selection = selectLearned(candidates, 100, { coverage: 0.9, maxKeys: 10, alreadyWarm: (key) => key === 'warm' })
  assert.deepEqual(selection.keys.map((key) => key.key), ['a', 'b'])
  assert.equal(selection.coveredShare, 0.9)
})

test('never more than maxKeys; pins first; excluded keys and prefixes never', () => {
  const excluded = keyMatcher(['b', 'list:secondary?q=*'])
  assert.ok(excluded('list:secondary?q=abc'))
  assert.ok(!excluded('list:primary?q=abc'))
  const selection = selectLearned([...candidates, row('list:secondary?q=x', 40)], 140, { coverage: 1, maxKeys: 3, alreadyWarm: () => false, pinned: ['d', 'pinned-unseen'], excluded })
  assert.deepEqual(selection.keys.map((key) => key.key), ['d', 'pinned-unseen', 'a'])
})

test('no traffic, nothing learned', () => {
  assert.deepEqual(selectLearned([], 0, { coverage: 0.995, maxKeys: 10, alreadyWarm: () => false }), { keys: [], total: 0, coveredShare: 0 })
})

test('a key asked for fewer than minRequests times is not learned, whatever the coverage still missing; a pinned one is', () => {
  const quiet = [row('twice', 2), row('once-a', 1), row('once-b', 1)]
  const selection = selectLearned(quiet, 4, { coverage: 0.999, maxKeys: 10, minRequests: 2, alreadyWarm: () => false, pinned: ['once-b'] })
  assert.deepEqual(selection.keys.map((key) => key.key), ['once-b', 'twice'])
  assert.equal(selection.coveredShare, 0.75)
  assert.deepEqual(selectLearned(quiet, 4, { coverage: 0.999, maxKeys: 10, alreadyWarm: () => false }).keys.map((key) => key.key), ['twice', 'once-a', 'once-b'], 'minRequests defaults to 1')
})
