// Issue 4, "a scheduled warmup survives the death of the instance running it": three server
// processes share one BullMQ schedule of a slow job (every school's detail page, about 5 s). The
// instance that took the first tick is killed (SIGKILL) mid-run; BullMQ's stalled-job check on
// a survivor must notice the lock it stopped renewing and run the same job again, to completion.
// The lock is shortened through SCHEDULER_LOCK_DURATION_MS / SCHEDULER_STALLED_INTERVAL_MS so
// the takeover takes seconds, not BullMQ's default 30 s.
//
// The dead instance's warmup_runs row cannot be finished by anyone (a scheduled tick's run id is
// new on every attempt, so the rerun writes a row of its own); it stays 'running' until that
// instance starts again and marks its leftovers 'interrupted', which the test also checks (the
// restart has SCHEDULER=off, so that it cannot be the instance that takes over the job).
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Job } from 'bullmq'
import type { WarmupJobData, WarmupJobResult } from '../../src/warmup/bullmq-scheduler.ts'
import { skipUnlessServers } from '../helpers/env.ts'
import { sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { delay, messageOf, pollFor, type NodeProcess } from '../helpers/process-server.ts'

const LOCK_DURATION_MS = 4000
const STALLED_INTERVAL_MS = 1000
const INSTANCES = ['a', 'b', 'c']

interface RunRow {
  id: string
  instance: string
  status: string
  started_at: Date
  finished_at: Date | null
}

if (skipUnlessServers('BullMQ failover', ['postgres', 'redis'])) {
  describe('a scheduled warmup whose instance dies mid-run', () => {
    let deployment: SharedDeployment
    before(async () => {
      deployment = await sharedDeployment('failover')
    })
    after(async () => {
      await deployment?.close()
    })

    test('is taken over by another instance and completes; the dead instance marks its row interrupted when it restarts', async () => {
      const schedulerEnv: Record<string, string> = {
        SCHEDULER: 'bullmq',
        // Every 5 s: the next tick cannot overtake the stalled one, which BullMQ puts back at the head of the queue.
        SCHEDULE: 'slow=*/5 * * * * *=details',
        SCHEDULER_LOCK_DURATION_MS: String(LOCK_DURATION_MS),
        SCHEDULER_STALLED_INTERVAL_MS: String(STALLED_INTERVAL_MS),
      }
      const instances = new Map<string, NodeProcess>()
      await Promise.all(INSTANCES.map(async (id) => {
        const instance = await deployment.spawnServer(id, schedulerEnv)
        instances.set(`${id}#0`, instance)
        await instance.waitForLog('scheduler started', 60_000, (line) => messageOf(line).startsWith('scheduler started'))
      }))

      const runRows = (): Promise<RunRow[]> => deployment.db.query<RunRow>(`SELECT id, instance, status, started_at, finished_at FROM warmup_runs WHERE trigger = 'schedule:slow' ORDER BY started_at`)
      const firstRun = await pollFor('the first slow tick to start', 30_000, async () => (await runRows()).find((row) => row.status === 'running'))
      const [activeJob] = (await deployment.queue().getActive()) as Job<WarmupJobData, WarmupJobResult>[]
      const jobId = activeJob?.id
      if (!activeJob || !jobId?.startsWith('repeat:slow:')) assert.fail(`the running job is the slow tick (${jobId})`)
      assert.equal(activeJob.processedBy, firstRun.instance)
      const victim = instances.get(firstRun.instance)
      assert.ok(victim, `instance ${firstRun.instance} is one of ours`)
      // Mid-run: a second into a run of several seconds.
      await delay(1000)
      assert.equal((await runRows()).find((row) => row.id === firstRun.id)?.status, 'running', 'still running when killed')
      victim.signal('SIGKILL')
      const killedAt = Date.now()
      assert.equal((await victim.exited).signal, 'SIGKILL')
      const leftBehind = (await runRows()).find((row) => row.id === firstRun.id)
      // The dead instance comes back under the same INSTANCE_ID while the job is taken over.
      const [victimId] = firstRun.instance.split('#')
      const restarted = await deployment.spawnServer(victimId!, { ...schedulerEnv, SCHEDULER: 'off' }, `instance ${victimId} (restarted)`)

      await pollFor(`job ${jobId} to complete on another instance`, 45_000, async () => (await deployment.queue().getJobState(jobId)) === 'completed', 200)
      // Read once completed: a copy read earlier would lack the result.
      const finished = (await deployment.queue().getJob(jobId)) as Job<WarmupJobData, WarmupJobResult>
      const result = finished.returnvalue
      assert.notEqual(result.instance, firstRun.instance, 'another instance ran it')
      assert.equal(finished.processedBy, result.instance)
      assert.equal(result.status, 'succeeded')
      assert.equal(result.keys, 1316, 'the rerun warmed every detail page')
      assert.equal(finished.stalledCounter, 1, 'picked up once after the stall, never twice')
      // BullMQ counts the finished attempt; the stall did not use up one of the job's 3 attempts.
      assert.equal(finished.attemptsMade, 1, 'a stall is not a failed attempt')

      const rows = await runRows()
      const rerun = rows.find((row) => row.id === result.runId)
      assert.ok(rerun, 'the rerun has a warmup_runs row')
      assert.equal(rerun.status, 'succeeded')
      assert.equal(rerun.instance, result.instance)
      const takeoverMs = rerun.started_at.getTime() - killedAt
      assert.ok(takeoverMs > 0, 'the rerun started after the kill')
      // A generous bound: lock expiry, up to two stalled checks, slack for two shared cores.
      assert.ok(takeoverMs < LOCK_DURATION_MS + 2 * STALLED_INTERVAL_MS + 10_000, `takeover after ${takeoverMs} ms`)
      // Between the kill and the rerun's end, no other slow run ran beside it (global concurrency 1).
      const overlapping = rows.filter((row) => row.id !== rerun.id && row.id !== firstRun.id && row.started_at.getTime() < (rerun.finished_at?.getTime() ?? Infinity) && (row.finished_at?.getTime() ?? Infinity) > rerun.started_at.getTime())
      assert.deepEqual(overlapping, [], 'no run overlapped the rerun')

      // Today a scheduled tick gets a new run id per attempt, so the killed attempt's row is left
      // behind for the killed instance to mark when it restarts. Should ticks ever keep one run id
      // across attempts (reported to the warmup module), the rerun simply finishes that row.
      const sameRun = result.runId === firstRun.id
      await restarted.waitUntilAnswering()
      const leftover = (await runRows()).find((row) => row.id === firstRun.id)
      if (sameRun) {
        assert.equal(leftover?.status, 'succeeded', 'the rerun finished the run it took over')
      } else {
        assert.equal(leftBehind?.status, 'running', 'nobody else finishes the dead attempt\'s row')
        assert.equal(leftover?.status, 'interrupted', 'the restarted instance marked its leftover run interrupted')
      }
      console.log(`[scale] failover: killed ${firstRun.instance} 1 s into run ${firstRun.id}; job ${jobId} rerun by ${result.instance} as ${sameRun ? 'the same run' : result.runId}, ` +
        `started ${takeoverMs} ms after the kill (lock ${LOCK_DURATION_MS} ms, stalled check every ${STALLED_INTERVAL_MS} ms), ${result.durationMs} ms long, stalledCounter ${finished.stalledCounter}; ` +
        (sameRun ? 'one warmup_runs row for the tick' : `the killed attempt's row was left '${leftBehind?.status}' until the killed instance restarted and marked it '${leftover?.status}'`))

      const exits = await Promise.all([...instances.values()].filter((instance) => instance !== victim).concat(restarted).map((instance) => instance.stop('SIGTERM', 30_000)))
      assert.deepEqual(exits.map((exit) => exit.code), [0, 0, 0], 'the survivors and the restarted instance shut down cleanly')
    })
  })
}
