import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BufferGarbagePolicy, BufferGarbageWatch } from '../../src/operations/heap-release.ts'

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
  it('does nothing without a gc to call', () => {
    if ((globalThis as { gc?: unknown }).gc) return
    const watch = new BufferGarbageWatch()
    watch.start()
    assert.equal(watch.watching, false)
  })

  it('while started, runs the collection it is given once the Buffer bytes surviving real scavenges outgrow the threshold; not once stopped', async () => {
    let collections = 0
    // No gap between collections, so a watch left running would ask again below.
    const watch = new BufferGarbageWatch(() => {
      collections += 1
    }, { minGapMs: 0 })
    // Buffers kept alive across scavenges, as a warmup's in-flight ones are, until `limit` collections were asked for.
    const hold = async (rounds: number, limit: number): Promise<void> => {
      const held: Buffer[] = []
      for (let round = 0; round < rounds && collections < limit; round++) {
        for (let i = 0; i < 50; i++) held.push(Buffer.alloc(16 * 1024))
        // JS garbage to make V8 scavenge, and a turn of the loop for the observer to be told.
        const garbage: object[] = []
        for (let i = 0; i < 20_000; i++) garbage.push({ round, i, text: `garbage ${i}` })
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    watch.start()
    try {
      assert.equal(watch.watching, true)
      await hold(200, 1)
      assert.equal(collections, 1, `no collection asked for with ${(process.memoryUsage().arrayBuffers / MB).toFixed(0)} MB in Buffers`)
    } finally {
      watch.stop()
    }
    assert.equal(watch.watching, false)
    await hold(40, 2)
    assert.equal(collections, 1, 'a stopped watch asks for nothing')
  })
})
