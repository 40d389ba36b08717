// The per-minute series behind the dashboard's hit-ratio chart: counts land in their minute,
// a minute the clock comes back to starts from zero, and the memory is one slot per minute.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RequestSeries } from '../../src/cache/request-series.ts'

const MINUTE = 60_000

test('counts per minute, oldest first, ending with the current minute', () => {
  let now = 10 * MINUTE + 5_000
  const series = new RequestSeries(3, () => now)
  series.record('hit')
  series.record('hit')
  series.record('miss')
  now += MINUTE
  series.record('stale')
  assert.deepEqual(series.points(), [
    { minute: 9 * MINUTE, hit: 0, stale: 0, miss: 0 },
    { minute: 10 * MINUTE, hit: 2, stale: 0, miss: 1 },
    { minute: 11 * MINUTE, hit: 0, stale: 1, miss: 0 },
  ])
})

test('a slot reused after the window has passed starts from zero; old minutes drop out', () => {
  let now = 0
  const series = new RequestSeries(2, () => now)
  series.record('hit')
  now = 2 * MINUTE
  series.record('miss')
  assert.deepEqual(series.points(), [
    { minute: MINUTE, hit: 0, stale: 0, miss: 0 },
    { minute: 2 * MINUTE, hit: 0, stale: 0, miss: 1 },
  ])
  now = 100 * MINUTE
  assert.deepEqual(series.points().map((point) => point.hit + point.stale + point.miss), [0, 0], 'nothing older than the window')
})

test('the window is bounded', () => {
  assert.throws(() => new RequestSeries(0))
  assert.throws(() => new RequestSeries(24 * 60 + 1))
  assert.equal(new RequestSeries(60).points().length, 60)
})
