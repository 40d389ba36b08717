import assert from 'node:assert/strict'
import { test } from 'node:test'
import { LoopPressure, loopBusy, warmKeys, type PlannedKey } from '../../src/warmup/key-pool.ts'

function plannedKeys(count: number, onWarm: (key: string) => Promise<void>): PlannedKey[] {
  return Array.from({ length: count }, (_unused, index) => {
    const key = `k${index}`
    return { key, target: 't', group: 'g', warm: () => onWarm(key) }
  })
}

/** Counts the keys in flight at once while `keys` are warmed with concurrency 4. */
async function maxInFlight(pressure: LoopPressure | undefined): Promise<{ max: number; warmed: number }> {
  let inFlight = 0
  let max = 0
  let warmed = 0
  const keys = plannedKeys(12, async () => {
    inFlight += 1
    max = Math.max(max, inFlight)
    await new Promise((resolve) => setImmediate(resolve))
    inFlight -= 1
    warmed += 1
  })
  await warmKeys(keys, { concurrency: 4, timeoutMs: 10_000, shouldStop: () => false, onResult: () => {}, ...(pressure ? { pressure } : {}) })
  return { max, warmed }
}

/** A pressure whose samples say what the test wants, not what this machine's loop does. */
class FixedPressure extends LoopPressure {
  constructor(private readonly state: { late: boolean; busy: boolean }) {
    super({ busyPauseMs: 1 })
  }

  override get late(): boolean {
    return this.state.late
  }

  override get busy(): boolean {
    return this.state.busy
  }
}

test('busy means a loop at least a quarter utilized and enough requests to compete for it; once busy, down to half that', () => {
  assert.equal(loopBusy(0.95, 1000), true)
  assert.equal(loopBusy(0.3, 1000), true, 'a loop that keeps up, but whose queued requests would wait behind a key')
  assert.equal(loopBusy(0.95, 50), false, 'a warmup alone saturates the loop: without traffic it is not slowed')
  assert.equal(loopBusy(0.2, 1000), false, 'traffic the loop has plenty of time to spare for')
  assert.equal(loopBusy(0.2, 1000, {}, true), true, 'a paced warmup adds little: the requests still use the loop')
  assert.equal(loopBusy(0.1, 1000, {}, true), false, 'the requests have thinned out')
  assert.equal(loopBusy(0.95, 50, {}, true), false, 'the requests have stopped')
  assert.equal(loopBusy(0.8, 300, { busyUtilization: 0.75, busyRequestsPerSecond: 300 }), true)
})

test('a run is paced until its first sample, then by the requests it measured', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] })
  let served = 0
  // Utilization 0 counts as busy here, so requests alone decide and the test does not depend on this machine's loop.
  const pressure = new LoopPressure({ demand: () => served, busyUtilization: 0, busyRequestsPerSecond: 200, firstSampleMs: 50, sampleMs: 250 })
  const stop = pressure.start()
  try {
    assert.equal(pressure.busy, true, 'paced before anything is measured')
    t.mock.timers.tick(50)
    assert.equal(pressure.busy, false, 'no requests in the first 50 ms: full speed')
    served += 100
    t.mock.timers.tick(250)
    assert.equal(pressure.busy, true, '400 requests a second')
    t.mock.timers.tick(250)
    assert.equal(pressure.busy, false, 'the requests stopped')
  } finally {
    stop()
  }
  assert.equal(pressure.busy, false)
  const again = pressure.start()
  try {
    assert.equal(pressure.busy, true, 'the next run starts paced again')
    served += 20
    t.mock.timers.tick(50)
    assert.equal(pressure.busy, true, '20 requests in its first 50 ms: 400 a second')
  } finally {
    again()
  }
})

test('keys are warmed `concurrency` at a time when the loop is free, one at a time when it is busy or late', async () => {
  const free = await maxInFlight(new FixedPressure({ late: false, busy: false }))
  assert.deepEqual(free, { max: 4, warmed: 12 })
  assert.deepEqual(await maxInFlight(new FixedPressure({ late: false, busy: true })), { max: 1, warmed: 12 })
  assert.deepEqual(await maxInFlight(new FixedPressure({ late: true, busy: false })), { max: 1, warmed: 12 })
  assert.deepEqual(await maxInFlight(undefined), { max: 4, warmed: 12 })
})
