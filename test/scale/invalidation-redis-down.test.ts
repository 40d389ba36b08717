// Issue 4, the bound on staleness while Redis is unreachable. Two server processes, A and B,
// reach the test Redis through a TCP proxy that the test cuts (every connection refused). With
// no Redis there is no bus: an invalidation on A cannot reach B. What bounds B's staleness then
// is the shorter of its L1 TTL and CACHE_OUTAGE_L1_SECONDS (30 s by default, so here the TTL):
// B serves its copy until that runs out and then
// reloads from the database. The test uses CACHE_TTL_DETAIL=5 to see that bound in seconds;
// with the defaults it is 5 min for lists, 30 min for details, 1 h for stats and filters.
// A second test asks what should follow the outage: when Redis answers again, both instances serve
// what was invalidated during it, and neither goes back to the value from before it.
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import { skipUnlessServers, testRedisUrl } from '../helpers/env.ts'
import { FaultProxy } from '../helpers/faults-proxy.ts'
import { adminHeaders, sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { delay, pollFor, type NodeProcess } from '../helpers/process-server.ts'
import { cachedEverywhere, get, untilChanged } from './invalidation-support.ts'

const DETAIL_TTL_SECONDS = 5
const RECOVERY_WATCH_MS = 6000

interface Health {
  cache: { ok: boolean; detail?: string }
}

if (skipUnlessServers('invalidation with Redis down', ['postgres', 'redis'])) {
  describe('invalidation while Redis is unreachable', () => {
    let deployment: SharedDeployment
    let proxy: FaultProxy
    let a: NodeProcess
    let b: NodeProcess
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 })

    before(async () => {
      const redis = new URL(testRedisUrl!)
      proxy = await FaultProxy.start({ host: redis.hostname, port: Number(redis.port || 6379) })
      deployment = await sharedDeployment('redis_down', { processRedisUrl: proxy.rewrite(testRedisUrl!) })
      const serverEnv = { SCHEDULER: 'off', CACHE_TTL_DETAIL: String(DETAIL_TTL_SECONDS) }
      a = await deployment.spawnServer('a', serverEnv)
      b = await deployment.spawnServer('b', serverEnv)
      await Promise.all([a.waitUntilAnswering(), b.waitUntilAnswering()])
    })
    after(async () => {
      keepAlive.destroy()
      await deployment?.close()
      await proxy?.close()
    })

    const redisReachable = async (reachable: boolean): Promise<void> => {
      for (const instance of [a, b]) {
        await pollFor(`${instance.label} to report Redis ${reachable ? 'reachable' : 'unreachable'}`, 20_000, async () => {
          const answer = await instance.request('GET', '/health', { agent: keepAlive })
          return (JSON.parse(answer.body) as Health).cache.ok === reachable
        }, 100)
      }
    }
    const invalidateOnA = async (): Promise<number> => {
      const invalidation = await a.request('POST', '/api/scheduler/clear-and-warmup', { headers: adminHeaders, body: JSON.stringify({ async: true }) })
      assert.equal(invalidation.status, 202, invalidation.body)
      return performance.now()
    }
    const firstPrimarySchool = async (): Promise<{ school_no: string; district: string }> =>
      (await deployment.db.query<{ school_no: string; district: string }>(`SELECT school_no, district FROM schools WHERE level = 'primary' ORDER BY school_no LIMIT 1`))[0]!

    test(`during the outage B serves A's invalidated value no longer than its L1 TTL (CACHE_TTL_DETAIL=${DETAIL_TTL_SECONDS})`, async () => {
      const school = await firstPrimarySchool()
      const urlPath = `/api/schools/${school.school_no}`
      const oldEtag = await cachedEverywhere([a, b], urlPath, keepAlive)
      // B's copy is at most this old when Redis goes away.
      const cachedAt = performance.now()
      proxy.cut('refuse')
      await redisReachable(false)
      try {
        await deployment.db.query(`UPDATE schools SET phone = '29999999' WHERE school_no = $1`, [school.school_no])
        const invalidatedAt = await invalidateOnA()
        const onA = await untilChanged(a, urlPath, oldEtag, 5000, keepAlive)
        assert.equal((JSON.parse(onA.answer.body) as { phone: string }).phone, '29999999', 'A invalidated its own copy')
        // A already serves the new value; B, which the bus cannot reach, still serves the old one.
        assert.equal((await get(b, urlPath, keepAlive)).headers.etag, oldEtag, 'B did not hear of the invalidation')

        const onB = await untilChanged(b, urlPath, oldEtag, (DETAIL_TTL_SECONDS + 10) * 1000, keepAlive)
        assert.equal((JSON.parse(onB.answer.body) as { phone: string }).phone, '29999999')
        const copyAgeMs = onB.at - cachedAt
        console.log(`[scale] Redis unreachable: A served its invalidation after ${(onA.at - invalidatedAt).toFixed(0)} ms; B kept the old value ${(onB.at - invalidatedAt).toFixed(0)} ms longer, ` +
          `until its L1 copy (cached at most ${copyAgeMs.toFixed(0)} ms before) passed CACHE_TTL_DETAIL=${DETAIL_TTL_SECONDS} s` + ' (the outage fallback, CACHE_OUTAGE_L1_SECONDS=30, is longer here)')
        // Bounded by the TTL (plus slack for two shared cores), not served for ever.
        assert.ok(copyAgeMs < (DETAIL_TTL_SECONDS + 3) * 1000, `B's copy was replaced ${copyAgeMs} ms after it was cached`)
      } finally {
        proxy.restore()
        await redisReachable(true)
      }
    })

    // A's invalidation and reload during the outage never reached Redis, so Redis still holds the
    // pre-outage value. When Redis is back, each instance expires everything, Redis included
    // (redis-health.ts), and reloads on the next read, serving a stale copy meanwhile: the newer of
    // its L1 copy and Redis's (response-cache.ts), never Redis's older one, which bentocache would
    // have picked.
    test('after the outage, both serve the value invalidated during it (A does not go back to the old one)', async () => {
      const school = await firstPrimarySchool()
      // A list page keeps CACHE_TTL_LIST (300 s): only the recovery can bring B up to date.
      const listPath = `/api/schools/primary?district=${school.district}&pageSize=100`
      const oldEtag = await cachedEverywhere([a, b], listPath, keepAlive)
      proxy.cut('refuse')
      await redisReachable(false)
      let restoredAt = 0
      try {
        await deployment.db.query(`UPDATE schools SET name_en = 'ZZZ Outage Test School' WHERE school_no = $1`, [school.school_no])
        await invalidateOnA()
        assert.match((await untilChanged(a, listPath, oldEtag, 5000, keepAlive)).answer.body, /ZZZ Outage Test School/)
        assert.equal((await get(b, listPath, keepAlive)).headers.etag, oldEtag, 'B cannot hear of it yet')
      } finally {
        restoredAt = performance.now()
        proxy.restore()
      }
      // For 6 s after the recovery (past the re-expiry each instance runs 2.1 s after Redis is back):
      // does A stay on the new value, and from when on does B serve it?
      const samples: { at: number; aNew: boolean; bNew: boolean }[] = []
      while (performance.now() - restoredAt < RECOVERY_WATCH_MS) {
        const [fromA, fromB] = [await get(a, listPath, keepAlive), await get(b, listPath, keepAlive)]
        samples.push({ at: performance.now() - restoredAt, aNew: fromA.headers.etag !== oldEtag, bNew: fromB.headers.etag !== oldEtag })
        await delay(50)
      }
      await redisReachable(true)
      const aWentBack = samples.find((sample) => !sample.aNew)
      const lastOldOnB = samples.findLast((sample) => !sample.bNew)
      const bSettled = lastOldOnB ? samples[samples.indexOf(lastOldOnB) + 1] : samples[0]
      const timeline = samples.map((sample) => `${sample.at.toFixed(0)} ms: A ${sample.aNew ? 'new' : 'old'}, B ${sample.bNew ? 'new' : 'old'}`).join('\n')
      console.log(`[scale] after the Redis outage: A ${aWentBack ? `went back to the old value ${aWentBack.at.toFixed(0)} ms after the recovery` : 'kept the new value'}; ` +
        `B ${bSettled ? `served the new value for good from ${bSettled.at.toFixed(0)} ms after the recovery` : `still served the old value ${RECOVERY_WATCH_MS} ms after the recovery`}`)
      assert.equal(aWentBack, undefined, `A went back to the value invalidated during the outage\n${timeline}`)
      assert.ok(bSettled, `B serves the new value by the end of the watch\n${timeline}`)
    })
  })
}
