// Per-group progress from the runner's listenAll(): a real WarmupRunner with fake targets, one
// key held, so the counts are read mid-run; only the last few runs are kept. Publication to a
// board is throttled (fake timers: at most one per interval, the first and the last at once),
// and the Redis board round-trips a run's progress between processes with an expiry on each
// value, ignores what it did not write, and reads as empty when Redis does not answer.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { WarmupRunner } from '../../src/warmup/runner.ts'
import { deploymentBoardPrefix, RedisProgressBoard } from '../../src/warmup/progress-board.ts'
import { RunProgressTracker, type RunProgress, type RunProgressBoard } from '../../src/warmup/run-progress.ts'
import { skipUnlessServers, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'
import { appGroups, captureLogger, deferred, fakeTarget } from '../helpers/warmup-fakes.ts'

/** A board that keeps every publication, in order. */
class RecordingBoard implements RunProgressBoard {
  readonly published: RunProgress[] = []
  async publish(progress: RunProgress): Promise<void> {
    this.published.push(progress)
  }
  async read(runIds: readonly string[]): Promise<Map<string, RunProgress>> {
    const found = new Map<string, RunProgress>()
    for (const progress of this.published) if (runIds.includes(progress.runId)) found.set(progress.runId, progress)
    return found
  }
  async close(): Promise<void> {}
}

const plan = (runId: string, keys: number) => ({ runId, trigger: 't', groups: ['a', 'b'], keys, targets: [{ name: 'ta', group: 'a', keys: 2 }, { name: 'tb', group: 'b', keys: keys - 2 }] })
const key = (runId: string, group: string, completed: number, total: number, ok = true) => ({ runId, key: `k${completed}`, target: `t${group}`, group, ok, durationMs: 1, completed, total })

test('progress per group of a run, whoever started it, read while a key is held', async () => {
  const gate = deferred()
  const reached = deferred()
  const registry = appGroups()
    .register(fakeTarget('lists', 'primary', ['p1', 'p2', 'p3'], { failing: ['p3'] }))
    .register(fakeTarget('stats', 'stats', ['s1', 's2'], {
      onWarm: async (key) => {
        if (key !== 's2') return
        reached.resolve()
        await gate.promise
      },
    }))
  const runner = new WarmupRunner({ registry, logger: captureLogger().logger, instanceId: 'test#0', concurrency: 1 })
  const tracker = new RunProgressTracker()
  const unsubscribe = runner.listenAll(tracker)
  const { run } = runner.start({ groups: ['primary', 'stats'], trigger: 'test' })
  await reached.promise
  const held = tracker.get(run.runId)
  assert.deepEqual(held?.groups, [
    { group: 'primary', keys: 3, completed: 3, warmed: 2, failed: 1 },
    { group: 'stats', keys: 2, completed: 1, warmed: 1, failed: 0 },
  ])
  assert.deepEqual({ keys: held.keys, completed: held.completed, warmed: held.warmed, failed: held.failed, finished: held.finished }, { keys: 5, completed: 4, warmed: 3, failed: 1, finished: false })
  gate.resolve()
  const summary = await run.done
  tracker.finish(summary)
  assert.deepEqual(tracker.get(run.runId)?.groups.find((group) => group.group === 'stats'), { group: 'stats', keys: 2, completed: 2, warmed: 2, failed: 0 })
  assert.equal(tracker.get(run.runId)?.finished, true)

  unsubscribe()
  const { run: later } = runner.start({ groups: ['stats'], trigger: 'test' })
  await later.done
  assert.equal(tracker.get(later.runId), undefined, 'no longer listening')
  await runner.close()
})

test('only the last five runs are kept', () => {
  const tracker = new RunProgressTracker()
  for (let index = 1; index <= 7; index++) tracker.onPlan({ runId: `r${index}`, trigger: 't', groups: ['g'], keys: 1, targets: [{ name: 't', group: 'g', keys: 1 }] })
  assert.equal(tracker.get('r1'), undefined)
  assert.equal(tracker.get('r2'), undefined)
  assert.deepEqual(tracker.get('r7')?.groups, [{ group: 'g', keys: 1, completed: 0, warmed: 0, failed: 0 }])
})

test('publications are throttled: the plan at once, then at most one per interval with the latest counts, and the end at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 })
  const board = new RecordingBoard()
  const tracker = new RunProgressTracker({ board, publishIntervalMs: 300 })
  tracker.onPlan(plan('r1', 5))
  assert.equal(board.published.length, 1, 'the plan is published at once')
  assert.deepEqual(board.published[0]!.groups.map((group) => [group.group, group.keys, group.completed]), [['a', 2, 0], ['b', 3, 0]])

  tracker.onKey(key('r1', 'a', 1, 5))
  tracker.onKey(key('r1', 'a', 2, 5, false))
  tracker.onKey(key('r1', 'b', 3, 5))
  assert.equal(board.published.length, 1, 'keys within the interval wait')
  t.mock.timers.tick(299)
  assert.equal(board.published.length, 1)
  t.mock.timers.tick(1)
  assert.equal(board.published.length, 2, 'one publication when the interval is over')
  const second = board.published[1]!
  assert.deepEqual({ completed: second.completed, warmed: second.warmed, failed: second.failed }, { completed: 3, warmed: 2, failed: 1 }, 'with every key so far')
  assert.deepEqual(second.groups.map((group) => [group.group, group.completed]), [['a', 2], ['b', 1]])

  t.mock.timers.tick(1000)
  assert.equal(board.published.length, 2, 'nothing new, nothing published')
  tracker.onKey(key('r1', 'b', 4, 5))
  assert.equal(board.published.length, 3, 'a key after a quiet interval is published at once')
  tracker.onKey(key('r1', 'b', 5, 5))
  tracker.finish({ runId: 'r1', keys: 5, warmed: 4, failed: 1 })
  assert.equal(board.published.length, 4, 'the end is published at once, the pending one with it')
  assert.deepEqual({ ...board.published[3]!, groups: undefined, updatedAt: undefined }, { runId: 'r1', keys: 5, completed: 5, warmed: 4, failed: 1, finished: true, groups: undefined, updatedAt: undefined })
  t.mock.timers.tick(1000)
  assert.equal(board.published.length, 4, 'no timer left behind')

  // Another process's tracker (no run of its own) reads the run from the board.
  const elsewhere = new RunProgressTracker({ board })
  assert.deepEqual((await elsewhere.read(['r1', 'r2'])).get('r1')?.groups.map((group) => group.completed), [2, 3])
  assert.equal((await elsewhere.read(['r2'])).size, 0)
})

test('a board that fails is logged once, not once per publication', async () => {
  const { logger, lines } = captureLogger()
  const board = new RecordingBoard()
  board.publish = () => Promise.reject(new Error('board down'))
  const tracker = new RunProgressTracker({ board, publishIntervalMs: 0, logger })
  tracker.onPlan(plan('r1', 3))
  for (let index = 1; index <= 3; index++) tracker.onKey(key('r1', 'a', index, 3))
  await tracker.close()
  assert.equal(lines.filter((line) => /could not publish/.test(line.msg)).length, 1)
  assert.deepEqual(tracker.get('r1')?.groups.map((group) => group.completed), [3, 0], 'counting goes on')
})

describe('the Redis progress board', () => {
  if (!skipUnlessServers('the Redis progress board', ['redis'])) return

  test('round-trips a run between processes, each value expiring; foreign or broken values are ignored', async () => {
    const prefix = deploymentBoardPrefix(uniqueName('progress'))
    const writer = new RedisProgressBoard({ url: testRedisUrl!, prefix })
    const reader = new RedisProgressBoard({ url: testRedisUrl!, prefix })
    const redis = rawRedis(testRedisUrl!)
    try {
      const running: RunProgress = { runId: 'wu-1', keys: 3, completed: 1, warmed: 1, failed: 0, groups: [{ group: 'stats', keys: 3, completed: 1, warmed: 1, failed: 0 }], updatedAt: new Date().toISOString(), finished: false }
      await writer.publish(running)
      assert.deepEqual((await reader.read(['wu-1', 'wu-2'])).get('wu-1'), running)
      const runningTtl = await redis.ttl(`${prefix}:wu-1`)
      assert.ok(runningTtl > 60 && runningTtl <= 600, `running ttl ${runningTtl}`)
      await writer.publish({ ...running, completed: 3, warmed: 3, finished: true })
      const finishedTtl = await redis.ttl(`${prefix}:wu-1`)
      assert.ok(finishedTtl > 0 && finishedTtl <= 60, `finished ttl ${finishedTtl}`)
      assert.equal((await reader.read(['wu-1'])).get('wu-1')?.finished, true)

      await redis.set(`${prefix}:wu-2`, 'not json')
      await redis.set(`${prefix}:wu-3`, JSON.stringify({ ...running, runId: 'wu-4' }))
      assert.deepEqual([...(await reader.read(['wu-2', 'wu-3'])).keys()], [], 'only values this module wrote for that run')
      assert.equal((await reader.read([])).size, 0)
    } finally {
      await deleteKeysUnder(redis, prefix)
      redis.disconnect()
      await writer.close()
      await reader.close()
    }
  })
})

test('an unreachable Redis reads as no progress, and a publication there rejects (the tracker logs it)', async () => {
  const board = new RedisProgressBoard({ url: 'redis://127.0.0.1:9', prefix: 'nowhere' })
  try {
    assert.equal((await board.read(['wu-1'])).size, 0)
    await assert.rejects(board.publish({ runId: 'wu-1', keys: 1, completed: 0, warmed: 0, failed: 0, groups: [], updatedAt: '', finished: false }))
  } finally {
    await board.close()
  }
})

