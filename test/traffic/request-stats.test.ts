// The in-memory side of the request statistics: the Space-Saving sketch's guarantees and
// bounds, and the search threshold. The database side is in stats-store.test.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RequestStatistics } from '../../src/traffic/request-stats.ts'
import { SpaceSaving } from '../../src/traffic/space-saving.ts'

test('the sketch holds at most its capacity and keeps every key more frequent than n/capacity', () => {
  const sketch = new SpaceSaving(100)
  let n = 0
  // 10 heavy keys seen 5,000 times each, interleaved with 200,000 distinct one-off keys.
  for (let round = 0; round < 5000; round += 1) {
    for (let heavy = 0; heavy < 10; heavy += 1) {
      sketch.add(`heavy-${heavy}`, 0, false)
      n += 1
    }
    for (let once = 0; once < 40; once += 1) {
      sketch.add(`once-${round}-${once}`, 0, true)
      n += 1
    }
  }
  assert.equal(sketch.size, 100)
  for (let heavy = 0; heavy < 10; heavy += 1) {
    const entry = sketch.get(`heavy-${heavy}`)
    assert.ok(entry, `heavy-${heavy} is monitored`)
    assert.ok(entry.count >= 5000, 'count never understates')
    assert.ok(entry.count - entry.error <= 5000, 'count - error never overstates')
    assert.ok(entry.error <= n / 100, 'error at most n / capacity')
  }
})

test('a million distinct keys leave the statistics within their capacity', () => {
  const stats = new RequestStatistics({ classes: ['lists', 'searches'], sketchSize: 500, thresholdClass: 'searches', thresholdSketchSize: 300, threshold: 3 })
  for (let index = 0; index < 1_000_000; index += 1) stats.record(`list:primary?page=${index}`, index % 2, index % 3 === 0 ? 'miss' : 'hit')
  const sizes = stats.sizes()
  assert.equal(sizes.keys, 500)
  assert.equal(sizes.thresholdKeys, 300)
  const batch = stats.takeBatch()
  assert.ok(batch.keys.length <= 500, 'only the main sketch reports (no search reached the threshold)')
  assert.equal(batch.keys.filter((row) => row.requestClass === 'searches').length, 0)
  const lists = batch.classes.find((row) => row.requestClass === 'lists')!
  assert.equal(lists.requests, 500_000)
})

test('a search is reported only once certainly seen threshold times in the window, then only its new occurrences', () => {
  let now = 0
  const stats = new RequestStatistics({ classes: ['lists', 'searches'], sketchSize: 10, thresholdClass: 'searches', threshold: 3, thresholdWindowMs: 60_000, now: () => now })
  const searches = stats.classIndex('searches')
  stats.record('list:primary?q=once', searches, 'miss')
  stats.record('list:primary?q=popular', searches, 'miss')
  stats.record('list:primary?q=popular', searches, 'hit')
  assert.deepEqual(stats.takeBatch().keys, [], 'twice is below the threshold')
  now = 1000
  stats.record('list:primary?q=popular', searches, 'hit')
  assert.deepEqual(stats.takeBatch().keys.map((row) => [row.key, row.requests, row.misses]), [['list:primary?q=popular', 3, 1]])
  stats.record('list:primary?q=popular', searches, 'hit')
  // Its misses too are reported once: the earlier miss is not counted again.
  assert.deepEqual(stats.takeBatch().keys.map((row) => [row.key, row.requests, row.misses]), [['list:primary?q=popular', 1, 0]])
  // The window ends: counts start again, and 'once' never made it.
  now = 61_000
  stats.takeBatch()
  stats.record('list:primary?q=once', searches, 'miss')
  stats.record('list:primary?q=popular', searches, 'hit')
  assert.deepEqual(stats.takeBatch().keys, [])
})

test('the warm set and cache state are counted per class', () => {
  const stats = new RequestStatistics({ classes: ['lists', 'details'], sketchSize: 10 })
  stats.setWarmSet(new Set(['list:primary']))
  stats.record('list:primary', 0, 'hit')
  stats.record('list:primary', 0, 'stale')
  stats.record('list:primary?page=9', 0, 'miss')
  stats.record('detail:1', 1, 'miss')
  const batch = stats.takeBatch()
  assert.deepEqual(batch.classes, [{ requestClass: 'lists', requests: 3, cached: 2, warm: 2 }, { requestClass: 'details', requests: 1, cached: 0, warm: 0 }])
  assert.deepEqual(batch.keys.find((row) => row.key === 'list:primary?page=9'), { key: 'list:primary?page=9', requestClass: 'lists', requests: 1, misses: 1 })
  assert.equal(stats.warmShare(), 0.5)
})
