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

test('busy means a loop at least half utilized and enough requests to compete for it', () => {
  assert.equal(loopBusy(0.95, 1000), true)
  assert.equal(loopBusy(0.6, 1000), true, 'a loop that still keeps up, but whose queued requests would wait behind a key')
  assert.equal(loopBusy(0.95, 50), false, 'a warmup alone saturates the loop: without traffic it is not slowed')
  assert.equal(loopBusy(0.4, 1000), false, 'traffic the loop has time to spare for')
  assert.equal(loopBusy(0.8, 300, { busyUtilization: 0.75, busyRequestsPerSecond: 300 }), true)
})

test('keys are warmed `concurrency` at a time when the loop is free, one at a time when it is busy or late', async () => {
  const free = await maxInFlight(new FixedPressure({ late: false, busy: false }))
  assert.deepEqual(free, { max: 4, warmed: 12 })
  assert.deepEqual(await maxInFlight(new FixedPressure({ late: false, busy: true })), { max: 1, warmed: 12 })
  assert.deepEqual(await maxInFlight(new FixedPressure({ late: true, busy: false })), { max: 1, warmed: 12 })
  assert.deepEqual(await maxInFlight(undefined), { max: 4, warmed: 12 })
})
