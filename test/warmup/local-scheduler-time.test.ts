// The default schedule fires at the right instants: Hong Kong is UTC+8 all year (no DST), so
// 03:00 HKT is 19:00 UTC the day before. Time is faked (node:test mock timers for Date and
// setTimeout) and advanced a second at a time, so a simulated day takes about a second.
import assert from 'node:assert/strict'
import { afterEach, mock, test } from 'node:test'
import { DEFAULT_SCHEDULE } from '../../src/config.ts'
import { LocalScheduler } from '../../src/warmup/local-scheduler.ts'
import { nextRunOf, type SchedulerTick } from '../../src/warmup/scheduler.ts'
import { captureLogger } from '../helpers/warmup-fakes.ts'

const HOUR = 3_600_000

afterEach(() => mock.timers.reset())

/** Moves fake time forward in 1 s steps, letting each tick's promises settle (setImmediate is real). */
async function advance(ms: number, stepMs = 1000): Promise<void> {
  for (let done = 0; done < ms; done += stepMs) {
    mock.timers.tick(stepMs)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

function schedulerRecording(startIso: string): { scheduler: LocalScheduler; fired: { job: string; at: string; scheduledAt: string; groups: string[] }[] } {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse(startIso) })
  const fired: { job: string; at: string; scheduledAt: string; groups: string[] }[] = []
  const scheduler = new LocalScheduler({
    jobs: DEFAULT_SCHEDULE,
    timeZone: 'Asia/Hong_Kong',
    logger: captureLogger().logger,
    instanceId: 'clock#0',
    onTick: async (tick: SchedulerTick) => {
      fired.push({ job: tick.job!, at: new Date().toISOString(), scheduledAt: tick.scheduledAt, groups: tick.groups })
      return { runId: `wu-${fired.length}`, trigger: tick.trigger, groups: tick.groups, instance: 'clock#0', status: 'succeeded', keys: 0, warmed: 0, failed: 0, durationMs: 0, errors: [], slowest: [], startedAt: tick.scheduledAt, finishedAt: tick.scheduledAt }
    },
  })
  return { scheduler, fired }
}

test('the default jobs fire at 03:00, 08:00, 12:00 and every 2 h Hong Kong time, across a day boundary', async () => {
  // 02:30 HKT on Monday 10 March 2025.
  const { scheduler, fired } = schedulerRecording('2025-03-09T18:30:00.000Z')
  await scheduler.start()
  const status = await scheduler.status()
  assert.deepEqual(Object.fromEntries(status.jobs.map((job) => [job.name, job.nextRun])), {
    'daily-all-0300': '2025-03-09T19:00:00.000Z',
    'daily-all-0800': '2025-03-10T00:00:00.000Z',
    'noon-lists': '2025-03-10T04:00:00.000Z',
    'stats-filters-2h': '2025-03-09T20:00:00.000Z',
  })

  await advance(26 * HOUR) // to 04:30 HKT on Tuesday 11 March
  await scheduler.stop()

  const byJob = (name: string): string[] => fired.filter((tick) => tick.job === name).map((tick) => tick.at)
  assert.deepEqual(byJob('daily-all-0300'), ['2025-03-09T19:00:00.000Z', '2025-03-10T19:00:00.000Z'])
  assert.deepEqual(byJob('daily-all-0800'), ['2025-03-10T00:00:00.000Z'])
  assert.deepEqual(byJob('noon-lists'), ['2025-03-10T04:00:00.000Z'])
  // Even hours HKT from 04:00 Monday to 04:00 Tuesday: 13 firings, on even UTC hours.
  const everyTwoHours = Array.from({ length: 13 }, (_, index) => new Date(Date.parse('2025-03-09T20:00:00.000Z') + index * 2 * HOUR).toISOString())
  assert.deepEqual(byJob('stats-filters-2h'), everyTwoHours)
  assert.ok(fired.every((tick) => tick.scheduledAt === tick.at), 'scheduledAt is the cron instant')
  assert.deepEqual(fired.find((tick) => tick.job === 'noon-lists')?.groups, ['primary', 'secondary'])
  assert.deepEqual(fired.find((tick) => tick.job === 'stats-filters-2h')?.groups, ['stats', 'filters'])
})

test('a year-end night: 03:00 HKT on 1 January is 19:00 UTC on 31 December', async () => {
  const { scheduler, fired } = schedulerRecording('2025-12-31T18:59:00.000Z')
  await scheduler.start()
  await advance(2 * 60_000)
  await scheduler.stop()
  assert.deepEqual(fired.filter((tick) => tick.job === 'daily-all-0300').map((tick) => tick.at), ['2025-12-31T19:00:00.000Z'])
  assert.equal((await scheduler.status()).jobs[0]!.nextRun, null, 'a stopped scheduler has no next run')
})

test('stop() in fake time: no tick after it', async () => {
  const { scheduler, fired } = schedulerRecording('2025-03-09T18:59:00.000Z')
  await scheduler.start()
  await scheduler.stop()
  await advance(2 * 60_000)
  assert.deepEqual(fired, [])
})

test('croner computes the same instants from any start date (no timers involved)', () => {
  const from = new Date('2025-06-30T15:59:59.000Z') // 23:59:59 HKT, a second before midnight
  const next = (cron: string, start = from): string | undefined => nextRunOf(cron, 'Asia/Hong_Kong', start)?.toISOString()
  assert.equal(next('0 3 * * *'), '2025-06-30T19:00:00.000Z')
  assert.equal(next('0 8 * * *'), '2025-07-01T00:00:00.000Z')
  assert.equal(next('0 12 * * *'), '2025-07-01T04:00:00.000Z')
  assert.equal(next('0 */2 * * *'), '2025-06-30T16:00:00.000Z')
  assert.equal(next('0 */2 * * *', new Date('2025-06-30T16:00:00.000Z')), '2025-06-30T18:00:00.000Z')
  // The same cron in UTC would be eight hours later: the zone is really applied.
  assert.equal(nextRunOf('0 3 * * *', 'UTC', from)?.toISOString(), '2025-07-01T03:00:00.000Z')
})
