import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { watchBufferGarbage } from '../../src/operations/heap-release.ts'

const MB = 1024 * 1024

/** Buffer bytes the test sets, and a collection that drops them to what is live. */
function fakeProcess(): { bytes: number; live: number; collections: number; read: () => number; collect: () => void } {
  const state = {
    bytes: 10 * MB,
    live: 10 * MB,
    collections: 0,
    read: () => state.bytes,
    collect: () => {
      state.collections += 1
      state.bytes = state.live
    },
  }
  return state
}

describe('watchBufferGarbage', () => {
  it('collects once Buffer bytes grow past the threshold over the lowest reading, and not before', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const proc = fakeProcess()
    const stop = watchBufferGarbage({ readBufferBytes: proc.read, collect: proc.collect, growthBytes: 8 * MB, checkEveryMs: 100 })
    assert.ok(stop)
    t.after(stop)
    proc.bytes = 18 * MB
    t.mock.timers.tick(100)
    assert.equal(proc.collections, 0, 'exactly 8 MB of growth is not yet past it')
    proc.bytes = 18 * MB + 1
    t.mock.timers.tick(100)
    assert.equal(proc.collections, 1)
    assert.equal(proc.bytes, 10 * MB)
    // The reading after the collection is the new base: 5 MB more is below the threshold.
    proc.bytes = 15 * MB
    t.mock.timers.tick(100)
    assert.equal(proc.collections, 1)
  })

  it('measures growth from the lowest reading, so V8 freeing Buffers itself moves the base down', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const proc = fakeProcess()
    proc.bytes = 30 * MB
    const stop = watchBufferGarbage({ readBufferBytes: proc.read, collect: proc.collect, growthBytes: 8 * MB, checkEveryMs: 100 })
    t.after(() => stop?.())
    proc.bytes = 12 * MB
    t.mock.timers.tick(100)
    proc.bytes = 21 * MB
    t.mock.timers.tick(100)
    assert.equal(proc.collections, 1, '21 MB is 9 MB over the lowest reading (12), though below the first (30)')
  })

  it('stops checking once stopped, and does nothing without a gc to call', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const proc = fakeProcess()
    const stop = watchBufferGarbage({ readBufferBytes: proc.read, collect: proc.collect, growthBytes: 8 * MB, checkEveryMs: 100 })
    stop?.()
    proc.bytes = 100 * MB
    t.mock.timers.tick(1000)
    assert.equal(proc.collections, 0)
    if (!(globalThis as { gc?: unknown }).gc) assert.equal(watchBufferGarbage({ readBufferBytes: proc.read }), undefined)
  })
})
