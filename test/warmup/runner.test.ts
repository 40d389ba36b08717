import assert from 'node:assert/strict'
import { test } from 'node:test'
import { UnknownWarmupGroupError, type WarmTarget } from '../../src/warmup/targets.ts'
import { WarmupClosedError, WarmupRunner, type WarmupRunnerOptions } from '../../src/warmup/runner.ts'
import type { WarmupKeyProgress, WarmupPlan, WarmupSummary } from '../../src/warmup/summary.ts'
import { appGroups, captureLogger, concurrencyProbe, deferred, fakeTarget } from '../helpers/warmup-fakes.ts'

function runnerWith(targets: WarmTarget[], options: Partial<WarmupRunnerOptions> = {}) {
  const registry = appGroups()
  for (const target of targets) registry.register(target)
  const log = captureLogger()
  const runner = new WarmupRunner({ registry, logger: log.logger, instanceId: 'test#0', ...options })
  return { runner, log, registry }
}

test('warms every key of the requested groups and reports a summary', async () => {
  const primary = fakeTarget('primary-lists', 'primary', ['p1', 'p2', 'p3'])
  const stats = fakeTarget('stats', 'stats', ['s1'])
  const details = fakeTarget('details', 'details', ['d1'])
  const { runner } = runnerWith([primary, stats, details])
  const summary = await runner.run({ groups: ['all'], trigger: 'cli' })
  assert.equal(summary.status, 'succeeded')
  assert.equal(summary.trigger, 'cli')
  assert.deepEqual(summary.groups, ['primary', 'secondary', 'filters', 'stats'])
  assert.equal(summary.instance, 'test#0')
  assert.deepEqual([summary.keys, summary.warmed, summary.failed], [4, 4, 0])
  assert.deepEqual(summary.errors, [])
  assert.deepEqual(details.warmed, [], 'opt-in group left out of all')
  assert.deepEqual(primary.warmed.sort(), ['p1', 'p2', 'p3'])
  assert.match(summary.runId, /^wu-/)
  assert.ok(Date.parse(summary.finishedAt) >= Date.parse(summary.startedAt))
  assert.ok(summary.durationMs >= 0)
  assert.equal(summary.slowest.length, 4)
})

test('never more keys in flight than the concurrency', async () => {
  const probe = concurrencyProbe()
  const keys = Array.from({ length: 20 }, (_, index) => `k${index}`)
  const { runner } = runnerWith([fakeTarget('lists', 'primary', keys, { onWarm: probe.onWarm })], { concurrency: 3 })
  const summary = await runner.run({ groups: ['primary'], trigger: 'cli' })
  assert.equal(summary.warmed, 20)
  assert.equal(probe.max(), 3)
})

test('a bad key or a bad target never stops the run; each is reported with its message', async () => {
  const broken: WarmTarget = { name: 'broken', group: 'filters', keys: () => { throw new Error('no database') } }
  const { runner, log } = runnerWith([fakeTarget('lists', 'primary', ['a', 'b', 'c'], { failing: ['b'] }), broken])
  const summary = await runner.run({ groups: ['primary', 'filters'], trigger: 'admin' })
  assert.equal(summary.status, 'partial')
  assert.deepEqual([summary.keys, summary.warmed, summary.failed], [4, 2, 2])
  assert.deepEqual(summary.errors.map(({ key, message }) => ({ key, message })).sort((x, y) => x.key.localeCompare(y.key)), [
    { key: 'b', message: 'cannot warm b' },
    { key: 'broken (keys)', message: 'listing keys failed: no database' },
  ])
  assert.ok(log.messages().some((message) => /warmup key b failed: cannot warm b/.test(message)))
})

test("a run where every key fails is 'failed'", async () => {
  const { runner } = runnerWith([fakeTarget('lists', 'primary', ['a', 'b'], { failing: ['a', 'b'] })])
  const summary = await runner.run({ groups: ['primary'], trigger: 'cli' })
  assert.equal(summary.status, 'failed')
  assert.equal(summary.failed, 2)
})

test('a key that hangs fails after the key timeout and the others still warm', async () => {
  const hang: WarmTarget = { name: 'hang', group: 'primary', keys: () => [{ key: 'stuck', warm: () => new Promise(() => {}) }] }
  const { runner } = runnerWith([hang, fakeTarget('lists', 'primary', ['ok'])], { keyTimeoutMs: 50 })
  const summary = await runner.run({ groups: ['primary'], trigger: 'cli' })
  assert.deepEqual([summary.warmed, summary.failed], [1, 1])
  assert.match(summary.errors[0]!.message, /timed out after 50 ms/)
})

test('a key listed by two targets is warmed once; errors kept are capped but the count is exact', async () => {
  const keys = Array.from({ length: 8 }, (_, index) => `k${index}`)
  const first = fakeTarget('one', 'primary', keys, { failing: keys })
  const second = fakeTarget('two', 'secondary', ['k0', 'extra'])
  const { runner } = runnerWith([first, second], { maxRecordedErrors: 3 })
  const summary = await runner.run({ groups: ['primary', 'secondary'], trigger: 'cli' })
  assert.deepEqual([summary.keys, summary.warmed, summary.failed, summary.errors.length], [9, 1, 8, 3])
  assert.deepEqual(second.warmed, ['extra'])
})

test('logs the start and the end of every run, with counts, on lines that say warmup', async () => {
  const { runner, log } = runnerWith([fakeTarget('lists', 'primary', ['a', 'b'], { failing: ['b'] })])
  const summary = await runner.run({ groups: ['primary'], trigger: 'schedule:noon-lists' })
  const start = log.lines.find((line) => line.msg.startsWith('warmup started'))
  const end = log.lines.find((line) => line.msg.startsWith('warmup finished'))
  assert.ok(start && end)
  assert.equal(start.runId, summary.runId)
  assert.equal(start.trigger, 'schedule:noon-lists')
  assert.match(end.msg, /warmup finished: run \S+ partial, 1\/2 keys warmed, 1 failed in \d+ ms/)
  assert.deepEqual([end.keys, end.warmed, end.failed, end.status], [2, 1, 1, 'partial'])
})

test('a trigger during a run that covers its groups joins it: same run id, one warm per key, alreadyRunning true', async () => {
  const gate = deferred()
  let warms = 0
  const target = fakeTarget('lists', 'primary', ['a', 'b'], { onWarm: async () => { warms += 1; await gate.promise } })
  const { runner, log } = runnerWith([target])
  const first = runner.start({ groups: ['primary'], trigger: 'boot' })
  assert.equal(first.alreadyRunning, false)
  assert.equal(runner.current()?.runId, first.run.runId)
  const second = runner.start({ groups: ['primary'], trigger: 'schedule:noon-lists' })
  assert.equal(second.alreadyRunning, true)
  assert.equal(second.run.runId, first.run.runId)
  const joined = runner.run({ groups: ['primary'], trigger: 'admin' })
  assert.ok(log.messages().some((message) => message.includes('warmup already running')))
  gate.resolve()
  const [a, b] = await Promise.all([first.run.done, joined])
  assert.equal(a, b)
  assert.equal(a.trigger, 'boot')
  assert.equal(warms, 2)
  assert.equal(runner.current(), undefined)
  const next = runner.start({ groups: ['primary'], trigger: 'admin' })
  assert.equal(next.alreadyRunning, false)
  assert.notEqual(next.run.runId, first.run.runId)
  await next.run.done
})

test('triggers for groups the running run lacks share one follow-up run that starts after it, never beside it', async () => {
  const gate = deferred()
  let active = 0
  let maxActive = 0
  const warmed: string[] = []
  const onWarm = async (key: string) => {
    active += 1
    maxActive = Math.max(maxActive, active)
    warmed.push(key)
    if (key === 'p1') await gate.promise
    active -= 1
  }
  const { runner } = runnerWith([
    fakeTarget('lists', 'primary', ['p1'], { onWarm }),
    fakeTarget('stats', 'stats', ['s1'], { onWarm }),
    fakeTarget('filters', 'filters', ['f1'], { onWarm }),
  ])
  const first = runner.start({ groups: ['primary'], trigger: 'boot' })
  const stats = runner.start({ groups: ['stats'], trigger: 'admin' })
  const filters = runner.start({ groups: ['filters'], trigger: 'cli' })
  assert.equal(stats.alreadyRunning, true)
  assert.notEqual(stats.run.runId, first.run.runId)
  assert.equal(filters.run.runId, stats.run.runId, 'one follow-up takes every waiting request')
  gate.resolve()
  const [firstSummary, followUp] = await Promise.all([first.run.done, stats.run.done])
  assert.deepEqual(firstSummary.groups, ['primary'])
  assert.deepEqual([...followUp.groups].sort(), ['filters', 'stats'])
  assert.equal(followUp.warmed, 2)
  assert.ok(Date.parse(followUp.startedAt) >= Date.parse(firstSummary.finishedAt))
  assert.equal(maxActive, 1, 'keys of two runs never warmed at once')
  assert.deepEqual(warmed.sort(), ['f1', 'p1', 's1'])
})

test('bad groups are rejected at once, also while a run is going', async () => {
  const gate = deferred()
  const { runner } = runnerWith([fakeTarget('lists', 'primary', ['a'], { onWarm: () => gate.promise })])
  assert.throws(() => runner.start({ groups: ['bogus'], trigger: 'admin' }), UnknownWarmupGroupError)
  const started = runner.start({ groups: ['primary'], trigger: 'admin' })
  assert.throws(() => runner.start({ groups: ['bogus'], trigger: 'admin' }), UnknownWarmupGroupError)
  assert.throws(() => runner.start({ groups: ['primary'], trigger: 'bad trigger!' }), /not a valid warmup trigger/)
  gate.resolve()
  await started.run.done
})

test('start() returns the run id at once; progress reaches listeners, including one that joins later', async () => {
  const gate = deferred()
  const keys = ['a', 'b', 'c', 'd']
  const { runner } = runnerWith([fakeTarget('lists', 'primary', keys, { onWarm: (key) => (key === 'c' ? gate.promise : undefined) })], { concurrency: 1 })
  const plans: WarmupPlan[] = []
  const seen: WarmupKeyProgress[] = []
  const late: string[] = []
  const { run } = runner.start({ groups: ['primary'], trigger: 'cli', listener: { onPlan: (plan) => plans.push(plan), onKey: (progress) => seen.push(progress) } })
  assert.match(run.runId, /^wu-/)
  while (run.progress().completed < 2) await new Promise((resolve) => setImmediate(resolve))
  runner.start({ groups: ['primary'], trigger: 'admin', listener: { onKey: (progress) => late.push(progress.key), onPlan: () => { throw new Error('listener bug') } } })
  gate.resolve()
  const summary = await run.done
  assert.equal(summary.warmed, 4)
  assert.deepEqual(plans, [{ runId: run.runId, trigger: 'cli', groups: ['primary'], keys: 4, targets: [{ name: 'lists', group: 'primary', keys: 4 }] }])
  assert.deepEqual(seen.map((progress) => [progress.key, progress.completed, progress.total, progress.ok]), [['a', 1, 4, true], ['b', 2, 4, true], ['c', 3, 4, true], ['d', 4, 4, true]])
  assert.ok(seen.every((progress) => progress.durationMs >= 0 && progress.target === 'lists' && progress.group === 'primary'))
  assert.deepEqual(late, ['c', 'd'])
  assert.deepEqual(run.progress(), { keys: 4, completed: 4, warmed: 4, failed: 0 })
})

test('a listener that throws does not break the run', async () => {
  const { runner } = runnerWith([fakeTarget('lists', 'primary', ['a', 'b'])])
  const summary = await runner.run({ groups: ['primary'], trigger: 'cli', listener: { onKey: () => { throw new Error('progress bar bug') } } })
  assert.equal(summary.status, 'succeeded')
})

test('close() lets keys in flight finish, starts no more, ends the run interrupted and refuses new runs', async () => {
  const gate = deferred()
  const target = fakeTarget('lists', 'primary', ['a', 'b', 'c'], { onWarm: (key) => (key === 'a' ? gate.promise : undefined) })
  const finished: WarmupSummary[] = []
  const { runner } = runnerWith([target], { concurrency: 1, onRunFinished: (summary) => finished.push(summary) })
  const { run } = runner.start({ groups: ['primary'], trigger: 'boot' })
  while (run.progress().keys === 0) await new Promise((resolve) => setImmediate(resolve))
  const closing = runner.close()
  gate.resolve()
  await closing
  const summary = await run.done
  assert.equal(summary.status, 'interrupted')
  assert.deepEqual(target.warmed, ['a'])
  assert.deepEqual(finished, [summary])
  assert.throws(() => runner.start({ groups: ['primary'], trigger: 'admin' }), WarmupClosedError)
})

test('a history that fails does not fail the warmup', async () => {
  const failingHistory = { recordStart: async () => { throw new Error('db down') }, recordFinish: async () => { throw new Error('db down') } }
  const { runner, log } = runnerWith([fakeTarget('lists', 'primary', ['a'])], { history: failingHistory })
  const summary = await runner.run({ groups: ['primary'], trigger: 'boot' })
  assert.equal(summary.status, 'succeeded')
  assert.equal(log.lines.filter((line) => /warmup history: could not record/.test(line.msg)).length, 2)
})
