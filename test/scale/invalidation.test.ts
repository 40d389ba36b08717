// Issue 4, "an invalidation on one instance reaches the others": two server processes, A and B,
// each with its in-memory L1, share one Redis (L2 and the bentocache bus). A school's detail page
// is cached on both; its phone number is changed in the database (which no cache sees by itself)
// and A is asked to invalidate (POST /api/scheduler/clear-and-warmup, the operator's action: it
// expires every key, publishes the expiry on the bus, and re-warms the lists). The time until B
// answers with the new ETag is measured over 100 trials: bus delivery, B's stale-while-revalidate
// reload, the next request. The same is then done the way an operator changes data for real:
// `schools import-banding` in a process of its own, which changes one school's banding. The CLI
// finds the deployment's runtime file and hands the import to the server named there (the one
// that started listening last, usually B): the import's expiry then runs on the instance polled.
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
import { cachedEverywhere, get, servedBy, untilChanged } from './invalidation-support.ts'

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
        const { answer, at } = await untilChanged(b, urlPath, oldEtag, 60_000, keepAlive, async () => [
          `CLI: ${cliTarget(cli, [a, b])}; ${cli.running ? 'still running' : `exited ${JSON.stringify(await cli.exited)}`}`,
          await servedBy(b, urlPath, keepAlive),
          await servedBy(a, urlPath, keepAlive),
          await redisCopy(deployment, `detail:${school!.school_no}`),
          ...[b, a].map((instance) => importLines(instance)),
          cli.tail(15),
        ].join('\n'))
        const exit = await cli.waitForExit(60_000)
        const exited = performance.now()
        assert.equal(exit.code, 0, cli.tail())
        assert.deepEqual((JSON.parse(answer.body) as { banding: { code: string } }).banding.code, '1a')
        const a2 = await get(a, urlPath, keepAlive)
        assert.equal(a2.headers.etag, answer.headers.etag, 'A serves the same new document')
        assert.ok(!cli.logs().some((line) => messageOf(line).includes('failed')), cli.tail())
        console.log(`[scale] import-banding CLI: B served the new banding ${(at - started).toFixed(0)} ms after the CLI was started (the CLI process ran ${(exited - started).toFixed(0)} ms in all, start-up included; ${cliTarget(cli, [a, b])})`)
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    })
  })
}

/** Where the CLI sent its command (it says so on stderr, see src/cli/server-target.ts): which instance, or direct. */
function cliTarget(cli: NodeProcess, instances: NodeProcess[]): string {
  const line = cli.lines.find((text) => text.startsWith('sending to the server at ') || text.startsWith('no server running'))
  if (!line) return 'target not reported yet'
  const pid = /\(pid (\d+)\)/.exec(line)?.[1]
  const instance = instances.find((candidate) => String(candidate.pid) === pid)
  return instance ? `sent to ${instance.label} (${line})` : line
}

/** The header of the Redis copy of a cache key (times, ETag, invalidated) and its remaining life. */
async function redisCopy(deployment: SharedDeployment, key: string): Promise<string> {
  const redisKey = `${deployment.redisPrefix}:cache:${key}`
  const [stored, pttl] = await Promise.all([deployment.redis.getBuffer(redisKey), deployment.redis.pttl(redisKey)])
  if (!stored) return `Redis: no copy of ${key}`
  const header = stored.subarray(0, 400).toString('latin1')
  return `Redis (pttl ${pttl} ms, now ${Date.now()}): ${header.slice(0, Math.max(0, header.indexOf('}') + 1)) || header.slice(0, 200)}`
}

/** What an instance logged about imports, expiries and warmups (the last few lines). */
function importLines(instance: NodeProcess): string {
  const lines = instance.logs().filter((line) => /import|expir|warmup (started|finished|already|queued)/.test(messageOf(line))).slice(-8)
  return `--- ${instance.label}: imports, expiries, warmups ---\n${lines.map((line) => `${String(line.time)} ${messageOf(line).slice(0, 160)}`).join('\n')}`
}
