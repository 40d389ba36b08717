// Load shedding: bounded concurrency, a bounded queue with a bounded wait, then BusyError.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LoadLimiter } from '../../src/cache/load-limiter.ts'
import { BusyError } from '../../src/errors.ts'
import { deferred, eventually } from './support.ts'

test('runs at most `concurrency` loads, queues `maxQueue`, refuses the rest at once with BusyError', async () => {
  const limiter = new LoadLimiter({ concurrency: 2, maxQueue: 1, maxWaitMs: 60_000, retryAfterSeconds: 3 })
  const gate = deferred<void>()
  let running = 0
  let most = 0
  const load = async (): Promise<string> => {
    running += 1
    most = Math.max(most, running)
    await gate.promise
    running -= 1
    return 'done'
  }
  const admitted = [limiter.run(load), limiter.run(load), limiter.run(load)]
  const refused = await limiter.run(load).then(() => undefined, (error: unknown) => error)
  assert.ok(refused instanceof BusyError)
  assert.equal(refused.retryAfterSeconds, 3)
  assert.equal(refused.statusCode, 503)
  assert.equal(refused.code, 'E_BUSY')
  await eventually('two loads to run', () => (running === 2 ? true : undefined))
  assert.deepEqual({ ...limiter.counts(), shed: limiter.counts().shed }, { active: 2, queued: 1, shed: 1 })
  gate.resolve()
  assert.deepEqual(await Promise.all(admitted), ['done', 'done', 'done'])
  assert.equal(most, 2)
})

test('a queued load that waits longer than maxWaitMs is refused and never runs', async () => {
  const limiter = new LoadLimiter({ concurrency: 1, maxQueue: 5, maxWaitMs: 0 })
  const gate = deferred<void>()
  let ran = 0
  const first = limiter.run(async () => {
    await gate.promise
    return 1
  })
  const queued = limiter.run(async () => {
    ran += 1
    return 2
  })
  await assert.rejects(queued, BusyError)
  gate.resolve()
  assert.equal(await first, 1)
  await eventually('the queue to drain', () => (limiter.counts().queued === 0 && limiter.counts().active === 0 ? true : undefined))
  assert.equal(ran, 0)
})

test('a load started inside a load is not queued behind it (no self-deadlock)', async () => {
  const limiter = new LoadLimiter({ concurrency: 1, maxQueue: 0, maxWaitMs: 0 })
  const outer = await limiter.run(async () => `outer+${await limiter.run(async () => 'inner')}`)
  assert.equal(outer, 'outer+inner')
})

test('after close(), queued and new loads are refused without running; running ones finish', async () => {
  const limiter = new LoadLimiter({ concurrency: 1, maxQueue: 5, maxWaitMs: 60_000 })
  const gate = deferred<void>()
  let ran = 0
  const running = limiter.run(async () => {
    await gate.promise
    return 'finished'
  })
  const queued = limiter.run(async () => {
    ran += 1
    return 'queued'
  }).then(() => 'ran', (error: unknown) => error)
  await eventually('the first load to start', () => (limiter.counts().active === 1 ? true : undefined))
  limiter.close()
  await assert.rejects(limiter.run(async () => 'new'), BusyError)
  gate.resolve()
  assert.equal(await running, 'finished')
  assert.ok((await queued) instanceof BusyError)
  assert.equal(ran, 0)
})
