// Per-group progress from the runner's listenAll(): a real WarmupRunner with fake targets, one
// key held, so the counts are read mid-run; only the last few runs are kept.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WarmupRunner } from '../../src/warmup/runner.ts'
import { RunProgressTracker } from '../../src/warmup/run-progress.ts'
import { appGroups, captureLogger, deferred, fakeTarget } from '../helpers/warmup-fakes.ts'

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
  assert.deepEqual(tracker.get(run.runId)?.groups, [
    { group: 'primary', keys: 3, completed: 3, warmed: 2, failed: 1 },
    { group: 'stats', keys: 2, completed: 1, warmed: 1, failed: 0 },
  ])
  gate.resolve()
  await run.done
  assert.deepEqual(tracker.get(run.runId)?.groups.find((group) => group.group === 'stats'), { group: 'stats', keys: 2, completed: 2, warmed: 2, failed: 0 })

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
