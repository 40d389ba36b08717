// BullMQ-specific semantics the contract suite cannot see: several instances sharing one
// queue, schedule registration in Redis, deduplicated manual runs, retries with backoff and
// a job picked up again after its instance died. Runs only when a Redis answers.
import assert from 'node:assert/strict'
import { afterEach, describe, test } from 'node:test'
import { Queue, Worker } from 'bullmq'
import type { ScheduleJob } from '../../src/config.ts'
import { BullmqScheduler, type BullmqSchedulerOptions } from '../../src/warmup/bullmq-scheduler.ts'
import type { SchedulerTick, TickHandler } from '../../src/warmup/scheduler.ts'
import type { WarmupStatus, WarmupSummary } from '../../src/warmup/summary.ts'
import { testRedisUrl, uniqueName } from '../helpers/env.ts'
import { appGroups, captureLogger, deferred, obliterateQueue, waitFor } from '../helpers/warmup-fakes.ts'
import { delay } from '../helpers/wait.ts'

const DAILY: ScheduleJob[] = [
  { name: 'daily-all-0300', cron: '0 3 * * *', groups: ['all'] },
  { name: 'noon-lists', cron: '0 12 * * *', groups: ['primary', 'secondary'] },
]

function summary(tick: SchedulerTick, instance: string, status: WarmupStatus = 'succeeded'): WarmupSummary {
  const now = new Date().toISOString()
  return { runId: tick.runId ?? `wu-${Math.random().toString(36).slice(2)}`, trigger: tick.trigger, groups: tick.groups, instance, status, keys: 2, warmed: status === 'failed' ? 0 : 2, failed: status === 'failed' ? 2 : 0, durationMs: 5, errors: [], slowest: [], startedAt: now, finishedAt: now }
}

describe('BullmqScheduler', { skip: testRedisUrl ? false : 'no Redis (TEST_REDIS_URL)' }, () => {
  const open: { close(): Promise<unknown> }[] = []
  let prefix = ''
  afterEach(async () => {
    for (const item of open.splice(0).reverse()) await item.close()
    if (prefix) await obliterateQueue(testRedisUrl!, prefix)
  })

  function instance(instanceId: string, onTick: TickHandler, options: Partial<BullmqSchedulerOptions> = {}): BullmqScheduler {
    const registry = appGroups()
    const scheduler = new BullmqScheduler({
      redisUrl: testRedisUrl!, prefix, jobs: [], timeZone: 'Asia/Hong_Kong', logger: captureLogger().logger, instanceId, onTick,
      validateGroups: (groups) => registry.resolveGroups(groups), ...options,
    })
    open.push(scheduler)
    return scheduler
  }
  const fresh = (): void => {
    prefix = uniqueName('wbull')
  }
  const ok = (id: string): TickHandler => async (tick) => summary(tick, id)

  test('upsertJobScheduler under fixed ids: a second instance changes nothing, a changed cron updates, a dropped job is removed', async () => {
    fresh()
    const a = instance('a#0', ok('a#0'), { jobs: DAILY, runWorker: false })
    await a.start()
    const delayedIds = async (): Promise<string[]> => (await a.queue.getDelayed()).map((job) => job.id!).sort()
    const before = { schedulers: await a.queue.getJobSchedulers(0, -1, true), delayed: await delayedIds() }
    assert.equal(before.schedulers.length, 2)
    assert.deepEqual(before.delayed.map((id) => id.split(':').slice(0, 2).join(':')), ['repeat:daily-all-0300', 'repeat:noon-lists'])
    assert.equal(before.schedulers.find((s) => s.key === 'daily-all-0300')?.tz, 'Asia/Hong_Kong')

    const b = instance('b#0', ok('b#0'), { jobs: DAILY, runWorker: false })
    await b.start()
    await b.register(DAILY)
    assert.deepEqual(await a.queue.getJobSchedulers(0, -1, true), before.schedulers)
    assert.deepEqual(await delayedIds(), before.delayed, 'the pending iteration jobs are untouched')

    // BullMQ's own upsert with identical options is idempotent too (it replaces the pending job by an identical one).
    const raw = before.schedulers.find((s) => s.key === 'noon-lists')!
    await a.queue.upsertJobScheduler('noon-lists', { pattern: raw.pattern!, tz: raw.tz! }, { name: raw.name, data: raw.template!.data!, opts: raw.template!.opts! })
    assert.equal(await a.queue.getJobSchedulersCount(), 2)
    assert.equal((await a.queue.getJobScheduler('noon-lists'))?.next, raw.next)
    assert.deepEqual(await delayedIds(), before.delayed)

    // A new deployment: 03:00 moved to 04:30, noon dropped, stats added.
    const c = instance('c#0', ok('c#0'), { jobs: [{ ...DAILY[0]!, cron: '30 4 * * *' }, { name: 'stats-2h', cron: '0 */2 * * *', groups: ['stats'] }], runWorker: false })
    await c.start()
    const after = await a.queue.getJobSchedulers(0, -1, true)
    assert.deepEqual(after.map((s) => [s.key, s.pattern]).sort(), [['daily-all-0300', '30 4 * * *'], ['stats-2h', '0 */2 * * *']])
    assert.equal(new Date(after.find((s) => s.key === 'daily-all-0300')!.next!).toISOString().slice(11), '20:30:00.000Z')
    assert.equal((await delayedIds()).filter((id) => id.startsWith('repeat:noon-lists')).length, 0)
    assert.equal((await delayedIds()).length, 2)
  })

  test('two instances with workers: every tick runs once, on one of them', async () => {
    fresh()
    const ticks: { instance: string; scheduledAt: string }[] = []
    const record = (id: string): TickHandler => async (tick) => {
      ticks.push({ instance: id, scheduledAt: tick.scheduledAt })
      return summary(tick, id)
    }
    const jobs: ScheduleJob[] = [{ name: 'every-second', cron: '* * * * * *', groups: ['stats'] }]
    const a = instance('a#0', record('a#0'), { jobs })
    const b = instance('b#0', record('b#0'), { jobs })
    await Promise.all([a.start(), b.start()])
    await waitFor(() => ticks.length >= 3, 30_000, 'three ticks')
    await Promise.all([a.stop(), b.stop()])
    const instants = ticks.map((tick) => tick.scheduledAt)
    assert.equal(new Set(instants).size, instants.length, `no tick ran twice: ${instants.join(', ')}`)
    assert.ok(instants.every((at) => at.endsWith('.000Z')), 'ticks fall on whole seconds')
    const last = (await a.status()).jobs[0]!.lastRun!
    assert.ok(['a#0', 'b#0'].includes(last.instance!))
    assert.equal(last.status, 'succeeded')
  })

  test('a manual run and the scheduled ticks never overlap, even on two instances (global concurrency 1)', async () => {
    fresh()
    const spans: { kind: string; instance: string; start: number; end: number }[] = []
    const gate = deferred()
    const handler = (id: string): TickHandler => async (tick) => {
      const start = Date.now()
      if (tick.job === undefined) await gate.promise
      else await delay(50)
      spans.push({ kind: tick.job ?? 'manual', instance: id, start, end: Date.now() })
      return summary(tick, id)
    }
    const jobs: ScheduleJob[] = [{ name: 'every-second', cron: '* * * * * *', groups: ['stats'] }]
    const a = instance('a#0', handler('a#0'), { jobs })
    const b = instance('b#0', handler('b#0'), { jobs })
    await Promise.all([a.start(), b.start()])
    await a.enqueue({ groups: ['all'], trigger: 'admin' })
    await waitFor(async () => (await a.queue.getActiveCount()) === 1 && (await a.queue.getActive())[0]?.name === 'manual', 30_000, 'the manual run to start')
    // A tick falls due meanwhile and must wait: it is in the queue, not running.
    await waitFor(async () => (await a.queue.getJobs(['wait', 'prioritized'])).some((job) => job.name !== 'manual'), 30_000, 'a tick to fall due during the manual run')
    gate.resolve()
    await waitFor(() => spans.some((span) => span.kind === 'manual') && spans.filter((span) => span.kind !== 'manual').length >= 2, 30_000, 'ticks after the manual run')
    await Promise.all([a.stop(), b.stop()])
    const sorted = [...spans].sort((x, y) => x.start - y.start)
    for (let index = 1; index < sorted.length; index += 1) {
      assert.ok(sorted[index]!.start >= sorted[index - 1]!.end, `run ${index} started before run ${index - 1} ended: ${JSON.stringify(sorted)}`)
    }
  })

  test('manual runs are deduplicated while one is queued or running, and run once', async () => {
    fresh()
    const gate = deferred()
    const ticks: SchedulerTick[] = []
    const enqueuer = instance('api#0', ok('api#0'), { runWorker: false })
    await enqueuer.start()
    const first = await enqueuer.enqueue({ groups: ['all'], trigger: 'admin' })
    assert.equal(first.deduplicated, false)
    assert.equal(first.jobId, `manual-${first.runId}`)
    const queued = await enqueuer.enqueue({ groups: ['all'], trigger: 'cli' })
    assert.deepEqual(queued, { ...first, deduplicated: true, alreadyRunning: true }, 'second admin asking for the same groups gets the queued run')

    const worker = instance('w#0', async (tick) => {
      ticks.push(tick)
      await gate.promise
      return summary(tick, 'w#0')
    })
    await worker.start()
    await waitFor(() => ticks.length === 1, 30_000, 'the manual run to start')
    assert.deepEqual(ticks[0], { job: undefined, groups: ['all'], trigger: 'admin', runId: first.runId, scheduledAt: ticks[0]!.scheduledAt, attempt: 1 })
    const whileRunning = await enqueuer.enqueue({ groups: ['all'], trigger: 'admin' })
    assert.equal(whileRunning.deduplicated, true)
    assert.equal(whileRunning.runId, first.runId)

    gate.resolve()
    await waitFor(async () => (await enqueuer.queue.getJobState(first.jobId)) === 'completed', 30_000, 'completion')
    const done = await enqueuer.queue.getJob(first.jobId)
    assert.equal(done?.returnvalue.instance, 'w#0')
    assert.equal(done?.returnvalue.runId, first.runId)
    const next = await enqueuer.enqueue({ groups: ['all'], trigger: 'admin' })
    assert.equal(next.deduplicated, false)
    assert.notEqual(next.runId, first.runId)
    await waitFor(() => ticks.length === 2, 30_000, 'the next manual run')
    assert.equal(ticks.length, 2)
    await assert.rejects(enqueuer.enqueue({ groups: ['nope'], trigger: 'admin' }), /unknown warmup group 'nope'/)
  })

  test('a failed run is retried with exponential backoff (3 attempts), keeping its run id and its deduplication', async () => {
    fresh()
    const attempts: { attempt: number; at: number; runId?: string }[] = []
    const scheduler = instance('w#0', async (tick) => {
      attempts.push({ attempt: tick.attempt, at: Date.now(), ...(tick.runId ? { runId: tick.runId } : {}) })
      return summary(tick, 'w#0', tick.attempt < 3 ? 'failed' : 'succeeded')
    }, { backoffMs: 300 })
    await scheduler.start()
    // Retries are what scheduled ticks get; a manual run asks for them explicitly (default 1 attempt).
    const { runId, jobId } = await scheduler.enqueue({ groups: ['all'], trigger: 'admin', attempts: 3 })
    await waitFor(() => attempts.length === 1, 30_000, 'first attempt')
    const duringBackoff = await scheduler.enqueue({ groups: ['all'], trigger: 'admin' })
    assert.deepEqual([duringBackoff.deduplicated, duringBackoff.runId], [true, runId])
    await waitFor(async () => (await scheduler.queue.getJobState(jobId)) === 'completed', 30_000, 'completion after retries')
    assert.deepEqual(attempts.map((attempt) => [attempt.attempt, attempt.runId]), [[1, runId], [2, runId], [3, runId]])
    const firstGap = attempts[1]!.at - attempts[0]!.at
    const secondGap = attempts[2]!.at - attempts[1]!.at
    assert.ok(firstGap >= 280, `first retry after ~300 ms, got ${firstGap}`)
    assert.ok(secondGap >= 560, `second retry after ~600 ms (exponential), got ${secondGap}`)
    const job = await scheduler.queue.getJob(jobId)
    assert.equal(job?.attemptsMade, 3, 'BullMQ counts the successful attempt too')
    assert.equal(job?.returnvalue.status, 'succeeded')
  })

  test('a manual run without retries fails at once and frees the deduplication id', async () => {
    fresh()
    let calls = 0
    const scheduler = instance('w#4', async (tick) => {
      calls += 1
      return summary(tick, 'w#4', calls === 1 ? 'failed' : 'succeeded')
    }, { backoffMs: 50 })
    await scheduler.start()
    const first = await scheduler.enqueue({ groups: ['all'], trigger: 'admin' })
    await waitFor(async () => (await scheduler.queue.getJobState(first.jobId)) === 'failed', 30_000, 'failure without retry')
    const second = await scheduler.enqueue({ groups: ['all'], trigger: 'admin' })
    assert.equal(second.deduplicated, false)
    await waitFor(async () => (await scheduler.queue.getJobState(second.jobId)) === 'completed', 30_000, 'next run')
    assert.equal(calls, 2)
  })

  test('a run that keeps failing ends failed after 3 attempts, recorded with the instance that ran it', async () => {
    fresh()
    let calls = 0
    const scheduler = instance('w#3', async (tick) => {
      calls += 1
      return summary(tick, 'w#3', 'failed')
    }, { backoffMs: 50 })
    await scheduler.start()
    const { jobId } = await scheduler.enqueue({ groups: ['all'], trigger: 'admin', attempts: 3 })
    await waitFor(async () => (await scheduler.queue.getJobState(jobId)) === 'failed', 30_000, 'final failure')
    const job = await scheduler.queue.getJob(jobId)
    assert.equal(calls, 3)
    assert.equal(job?.attemptsMade, 3)
    assert.equal(job?.processedBy, 'w#3')
    assert.match(job?.failedReason ?? '', /failed: 2\/2 keys failed/)
  })

  test('a job whose instance died mid-run is picked up again by another instance', async () => {
    fresh()
    const enqueuer = instance('api#0', ok('api#0'), { runWorker: false })
    await enqueuer.start()
    // The "dead" instance: a bare worker configured like the survivor (the stalled check is
    // shared: whichever worker runs it sets the pace for all), that that takes the job, never finishes it, then vanishes
    // without releasing it (force close: its lock is no longer renewed).
    const taken = deferred()
    const dead = new Worker('warmup', async () => {
      taken.resolve()
      await new Promise(() => {})
    }, { connection: { url: testRedisUrl! }, prefix, lockDuration: 1000, stalledInterval: 300, name: 'dead#0' })
    const { runId, jobId } = await enqueuer.enqueue({ groups: ['stats'], trigger: 'admin' })
    await taken.promise
    await dead.close(true)

    const ticks: SchedulerTick[] = []
    const survivor = instance('alive#0', async (tick) => {
      ticks.push(tick)
      return summary(tick, 'alive#0')
    }, { lockDurationMs: 1000, stalledIntervalMs: 300 })
    await survivor.start()
    await waitFor(async () => (await enqueuer.queue.getJobState(jobId)) === 'completed', 30_000, 'the stalled job to be rerun')
    assert.equal(ticks.length, 1)
    assert.equal(ticks[0]!.runId, runId)
    const job = await enqueuer.queue.getJob(jobId)
    assert.equal(job?.returnvalue.instance, 'alive#0')
    assert.equal(job?.stalledCounter, 1)
  })

  test('close() releases every Redis connection', async () => {
    fresh()
    const sockets = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length
    // Connections of earlier tests finish closing asynchronously.
    await waitFor(() => sockets() === 0, 30_000, 'earlier sockets to close')
    const scheduler = new BullmqScheduler({ redisUrl: testRedisUrl!, prefix, jobs: DAILY, logger: captureLogger().logger, instanceId: 'x#0', onTick: ok('x#0') })
    try {
      await scheduler.start()
      await waitFor(() => sockets() >= 2, 30_000, 'queue and worker connections to open')
    } finally {
      await scheduler.close()
    }
    await waitFor(() => sockets() === 0, 30_000, 'sockets to close')
    // Schedules stay in Redis for the other instances (afterEach removes the test's queue).
    const queue = new Queue('warmup', { connection: { url: testRedisUrl! }, prefix })
    try {
      assert.equal(await queue.getJobSchedulersCount(), 2)
    } finally {
      await queue.close()
    }
  })
})
