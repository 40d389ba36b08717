// One contract, two schedulers: whatever runs the ticks (croner in this process, or BullMQ
// job schedulers shared by instances), the app sees the same behaviour. The BullMQ copy
// runs only when a Redis answers (testRedisUrl). Ticks use a per-second cron; nothing is timed:
// the tests wait for ticks, with generous deadlines.
import assert from 'node:assert/strict'
import { afterEach, describe, test } from 'node:test'
import type { ScheduleJob } from '../../src/config.ts'
import { SchedulerError } from '../../src/errors.ts'
import { BullmqScheduler } from '../../src/warmup/bullmq-scheduler.ts'
import { LocalScheduler } from '../../src/warmup/local-scheduler.ts'
import { nextRunOf, type SchedulerTick, type WarmupScheduler } from '../../src/warmup/scheduler.ts'
import type { WarmupSummary } from '../../src/warmup/summary.ts'
import { skipUnlessServers, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { appGroups, captureLogger, obliterateQueue, waitFor } from '../helpers/warmup-fakes.ts'

interface Harness {
  scheduler: WarmupScheduler
  ticks: SchedulerTick[]
  log: ReturnType<typeof captureLogger>
}

type Factory = (jobs: ScheduleJob[], instanceId?: string) => Harness

const DAILY: ScheduleJob[] = [
  { name: 'daily-all-0300', cron: '0 3 * * *', groups: ['all'] },
  { name: 'noon-lists', cron: '0 12 * * *', groups: ['primary', 'secondary'] },
  { name: 'stats-filters-2h', cron: '0 */2 * * *', groups: ['stats', 'filters'] },
]
const EVERY_SECOND: ScheduleJob = { name: 'every-second', cron: '* * * * * *', groups: ['stats'] }

function summaryFor(tick: SchedulerTick, instance: string): WarmupSummary {
  const now = new Date().toISOString()
  return { runId: tick.runId ?? `wu-${tick.job}-${Date.now()}`, trigger: tick.trigger, groups: tick.groups, instance, status: 'succeeded', keys: 1, warmed: 1, failed: 0, durationMs: 1, errors: [], slowest: [], startedAt: now, finishedAt: now }
}

const registry = appGroups()
const backends: [string, (prefix: string) => Factory][] = [
  ['local', () => (jobs, instanceId = 'local#0') => {
    const ticks: SchedulerTick[] = []
    const log = captureLogger()
    const scheduler = new LocalScheduler({ jobs, timeZone: 'Asia/Hong_Kong', logger: log.logger, instanceId, validateGroups: (groups) => registry.resolveGroups(groups), onTick: async (tick) => { ticks.push(tick); return summaryFor(tick, instanceId) } })
    return { scheduler, ticks, log }
  }],
]
if (skipUnlessServers('scheduler contract [bullmq]', ['redis'])) {
  backends.push(['bullmq', (prefix) => (jobs, instanceId = 'bull#0') => {
    const ticks: SchedulerTick[] = []
    const log = captureLogger()
    const scheduler = new BullmqScheduler({ redisUrl: testRedisUrl!, prefix, jobs, timeZone: 'Asia/Hong_Kong', logger: log.logger, instanceId, validateGroups: (groups) => registry.resolveGroups(groups), onTick: async (tick) => { ticks.push(tick); return summaryFor(tick, instanceId) } })
    return { scheduler, ticks, log }
  }])
}

for (const [backend, factoryFor] of backends) {
  describe(`scheduler contract [${backend}]`, () => {
    const open: WarmupScheduler[] = []
    let make: Factory
    let prefix = ''
    const build = (jobs: ScheduleJob[], instanceId?: string): Harness => {
      const harness = make(jobs, instanceId)
      open.push(harness.scheduler)
      return harness
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((scheduler) => scheduler.close()))
      if (backend === 'bullmq') await obliterateQueue(testRedisUrl!, prefix)
    })
    const fresh = (): void => {
      prefix = uniqueName('wtest')
      make = factoryFor(prefix)
    }

    test('registers the jobs and lists them with their next runs in the time zone', async () => {
      fresh()
      const { scheduler, log } = build(DAILY)
      const before = await scheduler.status()
      assert.equal(before.running, false)
      await scheduler.start()
      const from = new Date()
      const status = await scheduler.status()
      assert.equal(status.backend, backend)
      assert.equal(status.running, true)
      assert.equal(status.timeZone, 'Asia/Hong_Kong')
      assert.deepEqual(status.jobs.map(({ name, cron, groups, timeZone }) => ({ name, cron, groups, timeZone })), DAILY.map((job) => ({ ...job, timeZone: 'Asia/Hong_Kong' })))
      for (const job of status.jobs) {
        assert.equal(job.nextRun, nextRunOf(job.cron, 'Asia/Hong_Kong', from)?.toISOString(), job.name)
        assert.equal(job.lastRun, null)
      }
      // 03:00 in Hong Kong is 19:00 UTC; noon is 04:00 UTC.
      assert.match(status.jobs[0]!.nextRun!, /T19:00:00\.000Z$/)
      assert.match(status.jobs[1]!.nextRun!, /T04:00:00\.000Z$/)
      const messages = log.messages()
      assert.ok(messages.some((message) => message.startsWith('scheduler started')))
      for (const job of DAILY) assert.ok(messages.some((message) => message.includes('scheduler') && message.includes(`job ${job.name}`)), job.name)
    })

    test("a tick calls the callback with the job's groups and trigger, and status shows the last run", async () => {
      fresh()
      const { scheduler, ticks } = build([EVERY_SECOND, ...DAILY], `${backend}#7`)
      const startedAt = Date.now()
      await scheduler.start()
      await waitFor(() => ticks.length > 0, 30_000, 'a tick')
      const seenAt = Date.now()
      const tick = ticks[0]!
      assert.equal(tick.job, 'every-second')
      assert.deepEqual(tick.groups, ['stats'])
      assert.equal(tick.trigger, 'schedule:every-second')
      assert.equal(tick.attempt, 1)
      // The cron instant it was due at: a whole second, after the start, not after it was seen.
      const scheduledAt = Date.parse(tick.scheduledAt)
      assert.equal(scheduledAt % 1000, 0, tick.scheduledAt)
      assert.ok(scheduledAt >= Math.floor(startedAt / 1000) * 1000 && scheduledAt <= seenAt, `${tick.scheduledAt} between the start and the tick`)
      await waitFor(async () => (await scheduler.status()).jobs.find((job) => job.name === 'every-second')?.lastRun !== null, 30_000, 'last run in status')
      const lastRun = (await scheduler.status()).jobs.find((job) => job.name === 'every-second')!.lastRun!
      assert.equal(lastRun.status, 'succeeded')
      assert.equal(lastRun.instance, `${backend}#7`)
      assert.match(lastRun.runId ?? '', /^wu-every-second-/)
      assert.equal(ticks.filter((seen) => seen.job !== 'every-second').length, 0)
    })

    test('stop() stops the ticks', async () => {
      fresh()
      const { scheduler, ticks } = build([EVERY_SECOND])
      await scheduler.start()
      await waitFor(() => ticks.length > 0, 30_000, 'a tick')
      await scheduler.stop()
      assert.equal((await scheduler.status()).running, false)
      const count = ticks.length
      // A second scheduler (its own queue) with the same every-second job is the clock: once it
      // has ticked twice, at least one due instant has passed since the stop, on this machine's
      // time however loaded, and the stopped scheduler must not have run it.
      const witnessPrefix = uniqueName('wtest')
      const witness = factoryFor(witnessPrefix)([EVERY_SECOND], `${backend}-witness#0`)
      try {
        await witness.scheduler.start()
        await waitFor(() => witness.ticks.length >= 2, 30_000, 'two ticks of the witness scheduler')
      } finally {
        await witness.scheduler.close()
        if (backend === 'bullmq') await obliterateQueue(testRedisUrl!, witnessPrefix)
      }
      assert.equal(ticks.length, count)
    })

    test('an invalid cron is rejected with a SchedulerError naming the job', async () => {
      fresh()
      assert.throws(() => build([...DAILY, { name: 'broken-job', cron: '61 * * * *', groups: ['stats'] }]), (error: unknown) => {
        assert.ok(error instanceof SchedulerError)
        assert.match(error.message, /broken-job/)
        assert.match(error.message, /61 \* \* \* \*/)
        return true
      })
      assert.throws(() => build([{ name: 'words', cron: 'every day', groups: ['stats'] }]), /Schedule job 'words' has an invalid cron/)
      assert.throws(() => build([{ name: 'bad-group', cron: '0 3 * * *', groups: ['tertiary'] }]), /Schedule job 'bad-group': .*unknown warmup group 'tertiary'/)
      const { scheduler } = build(DAILY)
      await scheduler.start()
      await assert.rejects(scheduler.register([{ name: 'later-broken', cron: '0 25 * * *', groups: ['all'] }]), /later-broken/)
      assert.deepEqual((await scheduler.status()).jobs.map((job) => job.name), DAILY.map((job) => job.name), 'a rejected set leaves the old jobs')
    })

    test('registering the same jobs again changes nothing; a changed cron updates; a dropped job goes', async () => {
      fresh()
      const { scheduler } = build(DAILY)
      await scheduler.start()
      const first = await scheduler.status()
      await scheduler.register(DAILY)
      await scheduler.start()
      const { scheduler: secondInstance } = build(DAILY, 'other#0')
      await secondInstance.start()
      assert.deepEqual((await scheduler.status()).jobs, first.jobs)

      const changed: ScheduleJob[] = [{ ...DAILY[0]!, cron: '30 4 * * *' }, DAILY[1]!]
      await scheduler.register(changed)
      const after = await scheduler.status()
      assert.deepEqual(after.jobs.map((job) => [job.name, job.cron]), [['daily-all-0300', '30 4 * * *'], ['noon-lists', '0 12 * * *']])
      assert.match(after.jobs[0]!.nextRun!, /T20:30:00\.000Z$/)
      assert.equal(after.jobs[1]!.nextRun, first.jobs[1]!.nextRun)
    })
  })
}
