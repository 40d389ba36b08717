import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { BufferGarbagePolicy, BufferGarbageWatch, type BufferGarbageWatchOptions } from '../../src/operations/heap-release.ts'

const MB = 1024 * 1024

describe('BufferGarbagePolicy', () => {
  it('asks for a full collection once the Buffer bytes surviving a scavenge pass the threshold over the last full collection', () => {
    const policy = new BufferGarbagePolicy(10 * MB, { growthBytes: 8 * MB, minGapMs: 1000 })
    assert.equal(policy.shouldCollectAfterScavenge(18 * MB, 0), false, 'exactly 8 MB of growth is not past it')
    assert.equal(policy.shouldCollectAfterScavenge(18 * MB + 1, 10), true)
    // What the collection left is the new base: 5 MB more is below the threshold.
    policy.fullCollection(11 * MB)
    assert.equal(policy.shouldCollectAfterScavenge(16 * MB, 5000), false)
  })

  it('takes a full collection V8 ran itself as the new base too', () => {
    const policy = new BufferGarbagePolicy(30 * MB, { growthBytes: 8 * MB, minGapMs: 1000 })
    policy.fullCollection(12 * MB)
    assert.equal(policy.shouldCollectAfterScavenge(21 * MB, 0), true, '9 MB over the last full collection (12 MB), though below the first reading (30 MB)')
  })

  it('collects at most once per gap, however fast the bytes grow', () => {
    const policy = new BufferGarbagePolicy(0, { growthBytes: 8 * MB, minGapMs: 1000 })
    assert.equal(policy.shouldCollectAfterScavenge(100 * MB, 5000), true)
    assert.equal(policy.shouldCollectAfterScavenge(100 * MB, 5500), false)
    assert.equal(policy.shouldCollectAfterScavenge(100 * MB, 6000), true)
  })
})

describe('BufferGarbageWatch', () => {
  it('collects after a run that grew the heap though no Buffers piled up', (t) => {
    const { watch, collections } = countingWatch(t, { heapGrowthBytes: 1 * MB })
    watch.start()
    // About 20 MB of live JS objects, which V8's heap has to grow to hold (this test runs first in
    // the suite, before the ones that leave garbage whose space V8 could reuse).
    const kept = Array.from({ length: 200_000 }, (_unused, i) => ({ i, text: `object ${i}`, more: [i, i + 1] }))
    assert.equal(watch.finish(), true, `heap grew by less than 1 MB with ${kept.length} objects held`)
    t.mock.timers.tick(200)
    assert.equal(collections(), 2)
  })

  it('does nothing without a gc to call', () => {
    if ((globalThis as { gc?: unknown }).gc) return
    const watch = new BufferGarbageWatch()
    watch.start()
    assert.equal(watch.watching, false)
  })

  it('while started, runs the collection it is given once the Buffer bytes surviving real scavenges outgrow the threshold; not once finished', async (t) => {
    // No gap between collections, so a watch left running would ask again below.
    const { watch, collections } = countingWatch(t, { minGapMs: 0 })
    watch.start()
    assert.equal(watch.watching, true)
    await holdBuffers(200, () => collections() >= 1)
    assert.equal(collections(), 1, `no collection asked for with ${(process.memoryUsage().arrayBuffers / MB).toFixed(0)} MB in Buffers`)
    assert.equal(watch.finish(), true, 'a run that made garbage is collected after it')
    assert.equal(watch.watching, false)
    t.mock.timers.tick(199)
    assert.equal(collections(), 1, 'not before the run has let go of its Buffers')
    t.mock.timers.tick(1)
    assert.equal(collections(), 3, 'two full collections after the run')
    await holdBuffers(40, () => collections() >= 4)
    assert.equal(collections(), 3, 'a finished watch asks for nothing')
  })

  it('collects nothing after a run that made no garbage (renewals only)', (t) => {
    const { watch, collections } = countingWatch(t, { heapGrowthBytes: 64 * MB })
    watch.start()
    const kept = Array.from({ length: 100 }, (_unused, i) => ({ i }))
    assert.equal(watch.finish(), false)
    t.mock.timers.tick(1000)
    assert.equal(collections(), 0, `no collection after a run that kept ${kept.length} small objects`)
  })
})

/** A watch whose collections are counted, with setTimeout faked for the rest of the test. */
function countingWatch(t: TestContext, options: BufferGarbageWatchOptions): { watch: BufferGarbageWatch; collections: () => number } {
  let collections = 0
  const watch = new BufferGarbageWatch(() => {
    collections += 1
  }, options)
  t.mock.timers.enable({ apis: ['setTimeout'] })
  return { watch, collections: () => collections }
}

/** Buffers kept alive across scavenges, as a warmup's in-flight ones are, for `rounds` turns or until `enough()`. */
async function holdBuffers(rounds: number, enough: () => boolean): Promise<void> {
  const held: Buffer[] = []
  for (let round = 0; round < rounds && !enough(); round++) {
    for (let i = 0; i < 50; i++) held.push(Buffer.alloc(16 * 1024))
    // JS garbage to make V8 scavenge, and a turn of the loop for the observer to be told.
    const garbage: object[] = []
    for (let i = 0; i < 20_000; i++) garbage.push({ round, i, text: `garbage ${i}` })
    await new Promise((resolve) => setImmediate(resolve))
  }
}
