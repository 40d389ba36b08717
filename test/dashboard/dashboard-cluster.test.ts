// Issue 13, "works the same with --workers 2": `schools serve --workers 2` on PostgreSQL + Redis
// (BullMQ scheduler in the primary, two HTTP workers) as a real process tree, and the dashboard
// in Chromium against it: every worker serves the page, signing in shows the BullMQ backend and
// the four default jobs in Hong Kong time, and a `stats` warmup (queued by whichever worker
// answered, run by the primary) appears and finishes with its key count. No console errors.
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { DEFAULT_SCHEDULE } from '../../src/config.ts'
import type { WarmupRunRecord } from '../../src/warmup/summary.ts'
import { openBrowser, type BrowserSession } from '../helpers/browser.ts'
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts'
import { adminHeaders, SCALE_ADMIN_TOKEN, sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { messageOf, type NodeProcess } from '../helpers/process-server.ts'
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
      primary = await deployment.spawn({ label: 'cluster primary', entry: 'src/cli/main.ts', args: ['serve', '--workers', '2'], env: { INSTANCE_ID: 'dash' } })
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
  })
}
