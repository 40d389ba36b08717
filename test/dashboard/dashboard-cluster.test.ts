// Issue 13, "works the same with --workers 2": `schools serve --workers 2` on PostgreSQL + Redis
// (BullMQ scheduler in the primary, two HTTP workers) as a real process tree, and the dashboard
// in Chromium against it: every worker serves the page, signing in shows the BullMQ backend and
// the four default jobs in Hong Kong time, and a `stats` warmup (queued by whichever worker
// answered, run by the primary) appears and finishes with its key count. While a run is held in
// the primary (its stats query waits on a table lock the test holds, so it runs as long as the
// test needs, with no timing), the page and both workers show its progress per group, published
// by the primary on the shared progress board. No console errors.
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { CurrentRun } from '../../src/admin/dashboard-routes.ts'
import { DEFAULT_SCHEDULE } from '../../src/config.ts'
import type { WarmupRunRecord } from '../../src/warmup/summary.ts'
import { openBrowser, type BrowserSession } from '../helpers/browser.ts'
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts'
import { adminHeaders, SCALE_ADMIN_TOKEN, sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { messageOf, type NodeProcess } from '../helpers/process-server.ts'
import { deferred } from '../helpers/warmup-fakes.ts'
import { browserSkipReason, finishedRow, hongKongTime, jobRows, signIn, warmGroup } from './dashboard-support.ts'

interface StatusAnswer {
  scheduler: { backend: string; jobs: { name: string; nextRun: string | null }[] }
}

if (testDatabaseUrl && testRedisUrl) {
  describe('operator dashboard in Chromium against serve --workers 2 (PostgreSQL + Redis)', { skip: browserSkipReason() }, () => {
    let deployment: SharedDeployment
    let primary: NodeProcess
    let browser: BrowserSession
    let baseUrl: string

    const adminGet = async <T>(path: string): Promise<T> => {
      const answer = await primary.request('GET', path, { headers: adminHeaders, timeoutMs: 10_000 })
      assert.equal(answer.status, 200, answer.body)
      return JSON.parse(answer.body) as T
    }

    before(async () => {
      deployment = await sharedDeployment('dashboard')
      primary = await deployment.spawn({ label: 'cluster primary', entry: 'src/cli/main.ts', args: ['serve', '--workers', '2'],
        // A statement waiting on the test's table lock waits for the test (the runner's key timeout still bounds it).
        env: { INSTANCE_ID: 'dash', DATABASE_TIMEOUT_MS: '120000' } })
      await primary.waitForLogs('two workers listening', 2, 120_000, (line) => messageOf(line).startsWith('school API listening on'))
      await primary.waitForLog('the scheduler to start', 60_000, (line) => messageOf(line).startsWith('scheduler started'))
      baseUrl = `http://127.0.0.1:${primary.port}`
      browser = await openBrowser()
    })
    after(async () => {
      await browser?.close()
      if (primary?.running) await primary.stop('SIGTERM', 30_000).catch(() => primary.kill())
      await deployment?.close()
    })

    test('both workers serve the page and uPlot from the package', async () => {
      const pids = new Set<number>()
      const paths = ['/admin/', '/admin/app.js', '/admin/vendor/uplot/uPlot.esm.js']
      // New connections are spread over the workers round robin: three requests a round (an odd
      // number) move /health from one worker to the next, and each file is asked of both.
      for (let round = 0; round < 40 && (pids.size < 2 || round < 6); round++) {
        const health = await primary.request('GET', '/health')
        pids.add((JSON.parse(health.body) as { instance: { pid: number } }).instance.pid)
        for (const path of [paths[round % 3]!, paths[(round + 1) % 3]!]) {
          const answer = await primary.request('GET', path)
          assert.equal(answer.status, 200, `${path}: ${answer.status}`)
        }
      }
      assert.equal(pids.size, 2, 'two workers answered')
    })

    test('signing in shows the BullMQ scheduler and the four default jobs in Hong Kong time', async () => {
      const { page } = browser
      await signIn(page, baseUrl, SCALE_ADMIN_TOKEN)
      await page.waitForSelector('#jobs tbody tr[data-job]', { timeout: 60_000 })
      assert.equal(await page.textContent('#backend'), 'bullmq')
      const status = await adminGet<StatusAnswer>('/api/scheduler/status')
      const rows = await jobRows(page)
      assert.deepEqual(rows.map((row) => row.name).sort(), DEFAULT_SCHEDULE.map((job) => job.name).sort())
      for (const row of rows) {
        const job = status.scheduler.jobs.find((candidate) => candidate.name === row.name)
        assert.ok(job?.nextRun, `${row.name} has a next run`)
        assert.equal(row.nextRun, hongKongTime(job.nextRun), `${row.name}: next run in Hong Kong time`)
      }
      assert.deepEqual(browser.consoleErrors, [])
    })

    test('a stats warmup queued from the page runs in the primary and finishes with its key count', async () => {
      const { page } = browser
      const runId = await warmGroup(page, 'stats')
      const row = await finishedRow(page, runId, 180_000)
      const record = await adminGet<WarmupRunRecord>(`/api/scheduler/runs/${runId}`)
      assert.equal(record.status, 'succeeded')
      assert.equal(record.instance, 'dash#primary', 'the primary ran it')
      assert.ok(record.groups.includes('stats'))
      assert.ok(record.keys > 0)
      assert.equal(row.status, 'succeeded')
      assert.equal(row.keys, String(record.keys))
      await page.waitForSelector(`#action-result[data-run-id="${runId}"][data-status="succeeded"]`, { timeout: 30_000 })
      assert.deepEqual(browser.consoleErrors, [])
    })

    test('while the primary runs a held warmup, the page and both workers show its progress per group', async () => {
      const { page } = browser
      // The stats query reads application_windows: with the table locked, the run's one stats key
      // waits in the primary until the test has seen what it wants and lets go. The stats value of
      // the previous test is current, and a warmup would renew it without a query
      // (docs/generations.md): a new data generation, as an import makes, has it loaded.
      await deployment.db.query('UPDATE data_generation SET generation = generation + 1')
      const release = deferred()
      const locked = deferred()
      const holding = deployment.db.transaction(async (tx) => {
        await tx.query('LOCK TABLE application_windows IN ACCESS EXCLUSIVE MODE')
        locked.resolve()
        await release.promise
      })
      await locked.promise
      let runId: string
      try {
        runId = await warmGroup(page, 'stats')
        const bar = await page.waitForSelector(`#current-body .current-run[data-run-id="${runId}"] .progress-row[data-group="stats"]`, { timeout: 60_000 })
        assert.deepEqual([await bar.getAttribute('data-done'), await bar.getAttribute('data-total')], ['0', '1'], 'stats: 0 of 1 key done while held')
        assert.match((await page.textContent(`#current-body .current-run[data-run-id="${runId}"]`)) ?? '', /Running on dash#primary; figures as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d HKT\./)

        // Whichever worker answers shows the same run with its per-group totals.
        const seen = new Map<string, CurrentRun>()
        for (let round = 0; round < 40 && seen.size < 2; round++) {
          const answer = await adminGet<{ instance: string; currentRuns: CurrentRun[] }>('/api/scheduler/dashboard')
          const current = answer.currentRuns.find((candidate) => candidate.runId === runId)
          assert.ok(current, `${answer.instance}: ${JSON.stringify(answer.currentRuns)}`)
          assert.deepEqual({ here: current.here, instance: current.instance }, { here: false, instance: 'dash#primary' })
          assert.deepEqual(current.perGroup.map((group) => [group.group, group.keys, group.completed]), [['stats', 1, 0]], answer.instance)
          assert.deepEqual({ keys: current.progress?.keys, completed: current.progress?.completed }, { keys: 1, completed: 0 })
          seen.set(answer.instance, current)
        }
        assert.deepEqual([...seen.keys()].sort(), ['dash#1', 'dash#2'], 'both workers answered')
      } finally {
        release.resolve()
        await holding
      }
      const row = await finishedRow(page, runId, 180_000)
      assert.equal(row.status, 'succeeded')
      await page.waitForSelector(`#current-body .current-run[data-run-id="${runId}"]`, { state: 'detached', timeout: 30_000 })
      assert.deepEqual(browser.consoleErrors, [])
    })
  })
}
