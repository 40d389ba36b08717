// Issue 4, "each scheduled warmup runs once, whatever the number of instances": three server
// processes (`node --import tsx src/server.ts`, started side by side) share one database, one
// Redis and so one BullMQ queue, with a job firing every second. Until ten ticks have completed
// (counted, not timed: a loaded machine makes the test longer, not red) every tick must have run
// exactly once: one BullMQ job per cron instant (job ids are `repeat:tick:<cron instant>`), each
// completed with one warmup_runs row, and no warmup_runs row that no job accounts for (a second
// run of the same tick would be one). Whether BullMQ skips an instant while every instance is
// starved of CPU is BullMQ's timing, not ours: gaps are reported, not asserted.
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Job } from 'bullmq'
import type { WarmupJobData, WarmupJobResult } from '../../src/warmup/bullmq-scheduler.ts'
import { skipUnlessServers } from '../helpers/env.ts'
import { sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { messageOf, pollFor, type NodeProcess } from '../helpers/process-server.ts'

const TICKS = 10
const INSTANCES = ['a', 'b', 'c']

interface RunRow {
  id: string
  instance: string
  status: string
  started_at: Date
}

/** The cron instant of a job scheduler's job, from its id `repeat:<scheduler>:<millis>`. */
function tickInstant(job: Job): number | undefined {
  const match = /^repeat:tick:(\d+)$/.exec(job.id ?? '')
  return match ? Number(match[1]) : undefined
}


if (skipUnlessServers('three instances sharing one BullMQ schedule', ['postgres', 'redis'])) {
  describe('three instances sharing one BullMQ schedule', () => {
    let deployment: SharedDeployment
    before(async () => {
      deployment = await sharedDeployment('ticks')
    })
    after(async () => {
      await deployment?.close()
    })

    test('a job every second runs exactly once per tick, over ten ticks', async () => {
      const instances: NodeProcess[] = await Promise.all(INSTANCES.map((id) => deployment.spawnServer(id, { SCHEDULER: 'bullmq', SCHEDULE: 'tick=* * * * * *=stats' })))
      await Promise.all(instances.map((instance) => instance.waitForLog('scheduler started', 60_000, (line) => messageOf(line).startsWith('scheduler started'))))

      const windowStart = Date.now()
      const completedTicks = async (): Promise<number> => (await deployment.queue().getJobs(['completed'], 0, -1)).filter((job) => (tickInstant(job) ?? 0) >= windowStart).length
      await pollFor(`${TICKS} completed ticks`, 120_000, async () => (await completedTicks()) >= TICKS, 200)
      const windowEnd = Date.now()
      // Ticks that fell due by windowEnd finish (the queue has nothing active or waiting), then everything stops.
      await pollFor('the ticks in flight to finish', 60_000, async () => (await deployment.queue().getJobs(['active', 'wait', 'prioritized'], 0, -1)).every((job) => (tickInstant(job) ?? Infinity) > windowEnd), 200)
      const exits = await Promise.all(instances.map((instance) => instance.stop('SIGTERM', 20_000)))
      assert.deepEqual(exits.map((exit) => exit.code), [0, 0, 0], 'every instance shuts down cleanly')

      const jobs = (await deployment.queue().getJobs(['completed', 'failed', 'active', 'wait', 'delayed', 'prioritized'], 0, -1)) as Job<WarmupJobData, WarmupJobResult>[]
      const ticks = jobs.map((job) => ({ job, at: tickInstant(job) })).filter((tick): tick is { job: Job<WarmupJobData, WarmupJobResult>; at: number } => tick.at !== undefined).sort((x, y) => x.at - y.at)
      const rows = await deployment.db.query<RunRow>(`SELECT id, instance, status, started_at FROM warmup_runs WHERE trigger = 'schedule:tick' ORDER BY started_at`)
      const rowById = new Map(rows.map((row) => [row.id, row]))

      const inWindow = ticks.filter((tick) => tick.at >= windowStart && tick.at <= windowEnd)
      const describeTicks = (list: { at: number }[]): string => list.map((tick) => new Date(tick.at).toISOString().slice(17, 23)).join(' ')
      assert.ok(inWindow.length >= TICKS, `at least ${TICKS} ticks in the window: ${describeTicks(inWindow)}`)
      // One job per cron instant: whole seconds, none twice.
      assert.deepEqual(inWindow.filter((tick) => tick.at % 1000 !== 0), [], 'every tick is a whole-second cron instant')
      assert.equal(new Set(inWindow.map((tick) => tick.at)).size, inWindow.length, `no instant twice: ${describeTicks(inWindow)}`)

      // Every tick in the window completed, and exactly one warmup_runs row records its run.
      const perInstance = new Map<string, number>()
      const pickUpDelays: number[] = []
      for (const { job, at } of inWindow) {
        assert.equal(await job.getState(), 'completed', `tick ${new Date(at).toISOString()} (job ${job.id}) completed: ${job.failedReason ?? ''}`)
        const result = job.returnvalue
        const row = rowById.get(result.runId)
        assert.ok(row, `warmup_runs has the run ${result.runId} of job ${job.id}`)
        assert.equal(row.status, 'succeeded')
        assert.equal(row.instance, result.instance)
        assert.equal(job.processedBy, result.instance, 'BullMQ and the run agree on the instance')
        assert.equal(job.stalledCounter, 0, `job ${job.id} never stalled`)
        perInstance.set(row.instance, (perInstance.get(row.instance) ?? 0) + 1)
        pickUpDelays.push(row.started_at.getTime() - at)
      }

      // No run that no job accounts for: every row that started by the window's end is the single
      // run of one completed tick (a tick run twice, on two instances, would leave a second row).
      const completedRunIds = new Set(ticks.filter((tick) => tick.job.finishedOn !== undefined && !tick.job.failedReason).map((tick) => tick.job.returnvalue.runId))
      const unaccounted = rows.filter((row) => row.started_at.getTime() <= windowEnd && !completedRunIds.has(row.id))
      assert.deepEqual(unaccounted, [], 'every run up to the end of the window belongs to exactly one completed tick')
      // And from the very first tick (while the instances were still starting) none was run twice or skipped.
      const firstToWindowEnd = ticks.filter((tick) => tick.at <= windowEnd)
      const gaps = firstToWindowEnd.slice(1).map((tick, index) => tick.at - firstToWindowEnd[index]!.at).filter((gap) => gap !== 1000)

      const spread = INSTANCES.map((id) => `${id}#0: ${perInstance.get(`${id}#0`) ?? 0}`).join(', ')
      console.log(`[scale] ticks: ${inWindow.length} ticks in a ${windowEnd - windowStart} ms window, ${inWindow.length} runs (one each); ` +
        `${firstToWindowEnd.length} ticks since the first (${new Date(ticks[0]?.at ?? 0).toISOString()}), gaps other than 1 s: ${gaps.length === 0 ? 'none' : gaps.join(', ')}`)
      console.log(`[scale] ticks: runs per instance in the window: ${spread}; pick-up delay (tick instant to run start) max ${Math.max(...pickUpDelays)} ms`)
    })
  })
}
