// Issue 4, "an invalidation on one instance reaches the others": two server processes, A and B,
// each with its in-memory L1, share one Redis (L2 and the bentocache bus). A school's detail page
// is cached on both; its phone number is changed in the database (which no cache sees by itself)
// and A is asked to invalidate (POST /api/scheduler/clear-and-warmup, the operator's action: it
// expires every key, publishes the expiry on the bus, and re-warms the lists). The time until B
// answers with the new ETag is measured over 100 trials: bus delivery, B's stale-while-revalidate
// reload, the next request. The same is then done the way an operator changes data for real:
// `schools import-banding` in a process of its own, which changes one school's banding.
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { skipUnlessServers } from '../helpers/env.ts'
import { adminHeaders, percentile, sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { delay, messageOf, type NodeProcess } from '../helpers/process-server.ts'
import { cachedEverywhere, get, untilChanged } from './invalidation-support.ts'

const TRIALS = 100
// A bound on correctness, not a speed: every trial's clear joins the warmup the previous one started and
// expires its keys again (the deployment's warm set: config/warm-targets.json's lists; the figures are printed).
const BOUND_MS = 10_000

if (skipUnlessServers('invalidation across instances', ['postgres', 'redis'])) {
  describe('cross-instance invalidation between two processes', () => {
    let deployment: SharedDeployment
    let a: NodeProcess
    let b: NodeProcess
    // Polling B over one kept-alive connection keeps the measurement about B, not about TCP set-up.
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 })

    before(async () => {
      deployment = await sharedDeployment('invalidation')
      a = await deployment.spawnServer('a', { SCHEDULER: 'off' })
      b = await deployment.spawnServer('b', { SCHEDULER: 'off' })
      await Promise.all([a.waitUntilAnswering(), b.waitUntilAnswering()])
    })
    after(async () => {
      keepAlive.destroy()
      await deployment?.close()
    })

    test(`B serves a value invalidated on A within ${BOUND_MS} ms (${TRIALS} trials)`, async () => {
      const [school] = await deployment.db.query<{ school_no: string }>(`SELECT school_no FROM schools WHERE level = 'primary' ORDER BY school_no LIMIT 1`)
      const urlPath = `/api/schools/${school!.school_no}`
      const fromStart: number[] = []
      const fromAnswer: number[] = []
      for (let trial = 1; trial <= TRIALS; trial++) {
        const oldEtag = await cachedEverywhere([a, b], urlPath, keepAlive)
        const phone = `2${String(trial).padStart(7, '0')}`
        await deployment.db.query('UPDATE schools SET phone = $1 WHERE school_no = $2', [phone, school!.school_no])
        if (trial === 1) {
          // Control: without an invalidation nothing tells B, so whatever changes B below is A's doing.
          await delay(300)
          assert.equal((await get(b, urlPath, keepAlive)).headers.etag, oldEtag, 'B keeps its cached copy until told')
        }
        const started = performance.now()
        const invalidation = await a.request('POST', '/api/scheduler/clear-and-warmup', { headers: adminHeaders, body: JSON.stringify({ async: true }) })
        const answered = performance.now()
        assert.equal(invalidation.status, 202, invalidation.body)
        const { answer, at } = await untilChanged(b, urlPath, oldEtag, 10_000, keepAlive)
        assert.equal((JSON.parse(answer.body) as { phone: string }).phone, phone, 'B serves the new value, not some other one')
        fromStart.push(at - started)
        fromAnswer.push(at - answered)
      }
      const figures = (values: number[]): string => `p50 ${percentile(values, 50).toFixed(1)} ms, p90 ${percentile(values, 90).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`
      console.log(`[scale] invalidation over ${TRIALS} trials, until B serves the new ETag: from A's POST ${figures(fromStart)}; from A's 202 ${figures(fromAnswer)}`)
      assert.ok(Math.max(...fromStart) < BOUND_MS, `max ${Math.max(...fromStart)} ms`)
    })

    test('schools import-banding, run as its own process, reaches B too', async () => {
      const [school] = await deployment.db.query<{ school_no: string }>(`SELECT school_no FROM schools WHERE level = 'secondary' ORDER BY school_no LIMIT 1`)
      const urlPath = `/api/schools/${school!.school_no}`
      const oldEtag = await cachedEverywhere([a, b], urlPath, keepAlive)
      assert.equal((JSON.parse((await get(b, urlPath, keepAlive)).body) as { banding: unknown }).banding, null)
      const dir = await mkdtemp(path.join(tmpdir(), 'scale-banding-'))
      try {
        const file = path.join(dir, 'banding.csv')
        await writeFile(file, `school_no,band\n${school!.school_no},1A\n`)
        const started = performance.now()
        const cli = await deployment.spawn({ label: 'schools import-banding', entry: 'src/cli/main.ts', args: ['import-banding', '--file', file], env: { SCHEDULER: 'off' } })
        const { answer, at } = await untilChanged(b, urlPath, oldEtag, 60_000, keepAlive)
        const exit = await cli.waitForExit(60_000)
        const exited = performance.now()
        assert.equal(exit.code, 0, cli.tail())
        assert.deepEqual((JSON.parse(answer.body) as { banding: { code: string } }).banding.code, '1a')
        const a2 = await get(a, urlPath, keepAlive)
        assert.equal(a2.headers.etag, answer.headers.etag, 'A serves the same new document')
        assert.ok(!cli.logs().some((line) => messageOf(line).includes('failed')), cli.tail())
        console.log(`[scale] import-banding CLI: B served the new banding ${(at - started).toFixed(0)} ms after the CLI was started (the CLI process ran ${(exited - started).toFixed(0)} ms in all, start-up included)`)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  })
}
