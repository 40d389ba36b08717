// SIGTERM to a real server process under load. The server reaches PostgreSQL through a proxy
// that can hold queries, which makes "in flight" exact: a request or a warmup key waits on a
// held query while the signal arrives, and is released only once the server has logged that
// it is shutting down. Then: the request in flight completes with 200, the warmup ends
// 'interrupted' (never left 'running'), every cache entry in Redis is whole, and the process
// exits 0 within a bound.
//
// Registered when the run has PostgreSQL and Redis (always in CI): the production setup.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { skipUnlessServers, testDatabaseUrl, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { incompleteEntry, RequestStream, warmUrls, type ListPage } from '../helpers/faults-load.ts'
import { FaultProxy } from '../helpers/faults-proxy.ts'
import { pollUntil, serverDatabase, ServerProcess, tempLogFile, withPostgres, type HttpResult, type ServerDatabase } from '../helpers/faults-server.ts'
import { deleteKeysUnder, keysUnder, rawRedis } from '../helpers/redis.ts'

const EXIT_BOUND_MS = 20_000

interface Baseline {
  url: string
  body: string
}

/** Steady load on warm keys; after the signal a request may also be refused (503 or a closed connection), never anything else. */
function loadOn(server: ServerProcess, warm: Baseline[]): RequestStream {
  return new RequestStream((url, timeoutMs) => server.get(url, { timeoutMs }), (index) => {
    const { url, body } = warm[index % warm.length]!
    return { url, judge: (result: HttpResult) => (result.body === body ? undefined : `body of ${url} changed`) }
  }, { workers: 3, maxRequests: 20_000, timeoutMs: 10_000, pauseMs: 2 })
}

function assertLoadBehaved(stream: RequestStream): void {
  // Judged by when the answer arrived: a request sent just before the signal may reach the server
  // after it began closing, and is then held to the shutdown rule (a right 200, a 503 or a refusal).
  const before = stream.records.filter((record) => record.answeredIn === 'before')
  assert.ok(before.length > 0, 'load ran before the signal')
  assert.deepEqual(before.filter((record) => record.problem !== undefined).slice(0, 3), [], 'before the signal every answer is right')
  const wrong = stream.records.filter((record) => record.answeredIn === 'shutdown').filter((record) => record.problem !== undefined && record.status !== 503 && record.status !== 0)
  assert.deepEqual(wrong.slice(0, 3), [], 'after the signal: a right 200, a 503 or a refused connection, nothing else')
}

if (skipUnlessServers('graceful shutdown under load', ['postgres', 'redis'])) {
  describe('SIGTERM under load', () => {
    const prefix = uniqueName('faults_stop')
    let proxy: FaultProxy | undefined
    let database: ServerDatabase | undefined
    let log: Awaited<ReturnType<typeof tempLogFile>> | undefined
    const servers: ServerProcess[] = []

    const startServer = async (): Promise<{ server: ServerProcess; warm: Baseline[] }> => {
      const server = await ServerProcess.start({ ...database!.env, REDIS_URL: testRedisUrl!, REDIS_PREFIX: prefix, LOG_FILE: log!.file, WARMUP_CONCURRENCY: '1', CACHE_ADMIT_MIN_HITS: '1' })
      servers.push(server)
      await server.waitForBootWarmup()
      const warm: Baseline[] = []
      for (const url of warmUrls().filter((url) => !url.endsWith('/stats'))) warm.push({ url, body: (await server.get(url)).body })
      return { server, warm }
    }

    const assertWholeEntries = async (): Promise<string[]> => {
      const client = rawRedis(testRedisUrl!)
      try {
        const keys = await keysUnder(client, `${prefix}:cache`)
        assert.ok(keys.length > 0)
        for (const key of keys) assert.equal(incompleteEntry(await client.getBuffer(key)), undefined, `Redis key ${key} after the shutdown`)
        return keys
      } finally {
        client.disconnect()
      }
    }

    before(async () => {
      proxy = await FaultProxy.start({ host: new URL(testDatabaseUrl!).hostname, port: Number(new URL(testDatabaseUrl!).port || 5432) })
      database = await serverDatabase({ databaseUrl: proxy.rewrite(testDatabaseUrl!), imported: true })
      log = await tempLogFile()
    })

    after(async () => {
      for (const server of servers) await server.stop('SIGKILL').catch(() => server.kill())
      await proxy?.close()
      await database?.drop()
      await log?.remove()
      const client = rawRedis(testRedisUrl!)
      await deleteKeysUnder(client, prefix).finally(() => client.disconnect())
    })

    test('a request in flight at SIGTERM completes with 200, and the process exits 0', async (t) => {
      const { server, warm } = await startServer()
      const firstPage = JSON.parse((await server.get('/api/schools/secondary?pageSize=5')).body) as ListPage
      const school = firstPage.items[4]!
      const stream = loadOn(server, warm)
      await pollUntil(() => stream.records.length >= 30, 15_000, '30 answers before the signal')

      // A cold detail: its query reaches the proxy and is held there, so the request is in flight.
      proxy!.hold()
      const inFlight = server.get(`/api/schools/${school.schoolNo}`, { timeoutMs: 30_000 })
      await proxy!.whenHeld(10_000)
      stream.phase = 'shutdown'
      server.signal('SIGTERM')
      await server.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('shutting down'), 10_000, 'that it is shutting down')
      // New connections are refused while the request is still held.
      await pollUntil(() => server.get('/health', { timeoutMs: 2000 }).then((response) => response.status === 503, () => true), 5000, 'new requests to be refused')
      proxy!.release()

      const response = await inFlight
      assert.equal(response.status, 200, response.body.slice(0, 300))
      const detail = JSON.parse(response.body) as { schoolNo: string; nameEn: string }
      assert.deepEqual({ schoolNo: detail.schoolNo, nameEn: detail.nameEn }, { schoolNo: school.schoolNo, nameEn: school.nameEn })

      const exit = await server.waitForExit(EXIT_BOUND_MS)
      await stream.stop()
      t.diagnostic(`${stream.summary()}; exit after ${exit.elapsedMs} ms`)
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, server.tail())
      assertLoadBehaved(stream)
      const keys = await assertWholeEntries()
      assert.ok(keys.includes(`${prefix}:cache:detail:${school.schoolNo}`), 'the detail loaded during the shutdown was stored whole')
    })

    test('SIGTERM during a warmup: keys in flight finish, the run ends interrupted, the process exits 0', async (t) => {
      const { server, warm } = await startServer()
      const stream = loadOn(server, warm)
      const started = await server.admin('POST', '/api/scheduler/warmup', { type: 'details', async: true })
      assert.equal(started.status, 202, started.body)
      const { runId } = JSON.parse(started.body) as { runId: string }
      let lastStatus = ''
      await pollUntil(async () => {
        lastStatus = (await server.admin('GET', '/api/scheduler/status')).body
        const status = JSON.parse(lastStatus) as { currentRun: { runId: string; progress: { completed: number } } | null }
        return status.currentRun?.runId === runId && status.currentRun.progress.completed >= 5
      }, 30_000, () => `the details warmup to be under way: ${lastStatus.slice(0, 1500)}\n${server.tail(15)}`)

      // Hold the keys in flight, signal, and let them go once the shutdown has begun.
      proxy!.hold()
      await proxy!.whenHeld(10_000)
      stream.phase = 'shutdown'
      server.signal('SIGTERM')
      await server.waitForLog((line) => typeof line.msg === 'string' && line.msg.startsWith('shutting down'), 10_000, 'that it is shutting down')
      proxy!.release()

      const exit = await server.waitForExit(EXIT_BOUND_MS)
      await stream.stop()
      t.diagnostic(`${stream.summary()}; exit after ${exit.elapsedMs} ms`)
      assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, server.tail())
      assertLoadBehaved(stream)

      const runs = await withPostgres(database!.schema!, (db) => db.query<{ id: string; status: string; keys: number; warmed: number }>('SELECT id, status, keys, warmed FROM warmup_runs'))
      assert.deepEqual(runs.filter((run) => run.status === 'running'), [], 'no run left running')
      const run = runs.find((row) => row.id === runId)
      assert.ok(run, `run ${runId} is recorded`)
      assert.equal(run.status, 'interrupted')
      assert.ok(run.warmed >= 5 && run.warmed < run.keys, `warmed ${run.warmed} of ${run.keys}`)
      await assertWholeEntries()
    })
  })
}
