// The admission sketch: counts what repeats, forgets with halving, and rarely confuses one-off keys.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FrequencySketch } from '../../src/cache/frequency-sketch.ts'

test('counts sightings of a key, never fewer than there were', () => {
  const sketch = new FrequencySketch(1000)
  for (let sighting = 1; sighting <= 5; sighting += 1) assert.ok(sketch.increment('list:primary?district=wan-chai') >= sighting)
  assert.ok(sketch.estimate('list:primary?district=wan-chai') >= 5)
  assert.equal(sketch.estimate('never-seen'), 0)
})

test('halves every count after a window of increments, so old popularity fades', () => {
  const sketch = new FrequencySketch(100)
  for (let sighting = 0; sighting < 8; sighting += 1) sketch.increment('hot')
  const before = sketch.estimate('hot')
  for (let index = 0; index < 100; index += 1) sketch.increment(`filler-${index}`)
  assert.ok(sketch.estimate('hot') <= Math.ceil(before / 2), `${sketch.estimate('hot')} after halving ${before}`)
})

test('a full window of distinct one-off keys: almost none looks repeated', () => {
  const sketch = new FrequencySketch(10_000)
  let lookRepeated = 0
  for (let index = 0; index < 9_999; index += 1) if (sketch.increment(`list:primary?pageSize=${index % 100}&district=${index}`) >= 2) lookRepeated += 1
  assert.ok(lookRepeated <= 20, `${lookRepeated} of 9,999 one-off keys counted twice`)
  assert.equal(sketch.bytes, 4 * 65_536)
})
