// A warmup asked for while another is running, for groups the running one does not cover.
// Found by the shutdown suite: an admin 'details' warmup sent during the boot warmup was
// "joined" to the boot run, so the details were never warmed; with BullMQ the synchronous
// request then waited for a run id that is never recorded (up to the 10 min poll limit).
//
// Acceptable answers: the requested groups are warmed (the summary covers them), or a clear
// 409 E_WARMUP_IN_PROGRESS naming the running run. Joining a run that does not cover the
// request, and hanging, are not. The database proxy slows every query down, so the overlap is
// certain. (The hang shows with BullMQ when the overlapped run is the boot warmup,
// which runs in process: the queued job "joins" it and its own run id is never recorded; the
// report that came with this file has the reproduction.)
//
// Registered when the run has PostgreSQL (and Redis for the BullMQ variant).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { skipUnlessServers, testDatabaseUrl, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { FaultProxy } from '../helpers/faults-proxy.ts'
import { pollUntil, serverDatabase, ServerProcess, tempLogFile, type ServerDatabase } from '../helpers/faults-server.ts'
import { deleteKeysUnder, rawRedis } from '../helpers/redis.ts'

function overlapSuite(title: string, env: Record<string, string>): void {
  describe(title, () => {
    const prefix = uniqueName('faults_overlap')
    let proxy: FaultProxy | undefined
    let database: ServerDatabase | undefined
    let log: Awaited<ReturnType<typeof tempLogFile>> | undefined
    let server: ServerProcess | undefined

    before(async () => {
      proxy = await FaultProxy.start({ host: new URL(testDatabaseUrl!).hostname, port: Number(new URL(testDatabaseUrl!).port || 5432) })
      database = await serverDatabase({ databaseUrl: proxy.rewrite(testDatabaseUrl!), imported: true })
      log = await tempLogFile()
      server = await ServerProcess.start({ ...database.env, REDIS_PREFIX: prefix, LOG_FILE: log.file, WARMUP_ON_BOOT: 'false', WARMUP_CONCURRENCY: '1', ...env })
    })

    after(async () => {
      if (server) await server.stop().catch(() => server?.kill())
      await proxy?.close()
      await database?.drop()
      await log?.remove()
      if (env.REDIS_URL) {
        const client = rawRedis(env.REDIS_URL)
        await deleteKeysUnder(client, prefix).finally(() => client.disconnect())
      }
    })

    test('a warmup of other groups during a run is warmed or refused with 409, never joined or left hanging', async () => {
      const running = server!
      // Every query slowed down, so the first run (9 list keys, one at a time) is certainly still going when the second request comes.
      proxy!.latencyMs = 150
      const started = await running.admin('POST', '/api/scheduler/warmup', { type: 'primary', async: true })
      assert.equal(started.status, 202, started.body)
      const { runId } = JSON.parse(started.body) as { runId: string }
      await pollUntil(async () => {
        const status = JSON.parse((await running.admin('GET', '/api/scheduler/status')).body) as { currentRun: { runId: string } | null }
        return status.currentRun?.runId === runId
      }, 30_000, 'the first warmup to be under way')
      // A generous bound: "left hanging" is no answer at all, and a loaded machine slows the first run down.
      const second = running.admin('POST', '/api/scheduler/warmup', { type: 'stats' }, 90_000)
      await running.waitForLog((line) => line.trigger === 'admin' && (String(line.msg).includes('joins it') || (Array.isArray(line.groups) && line.groups.includes('stats'))), 10_000, 'the second request being taken in')
      proxy!.latencyMs = 0

      const response = await second.catch((error: unknown) => ({ status: 0, body: `no answer: ${String(error)}` }))
      if (response.status === 409) {
        assert.equal((JSON.parse(response.body) as { error: string }).error, 'E_WARMUP_IN_PROGRESS')
        return
      }
      assert.equal(response.status, 200, response.body.slice(0, 300))
      const summary = JSON.parse(response.body) as { groups: string[] }
      assert.ok(summary.groups.includes('stats'), `asked for stats, got the summary of a run of ${summary.groups.join(', ')}`)
    })
  })
}

if (skipUnlessServers('warmup requests overlapping a run', ['postgres'])) {
  overlapSuite('warmup requests overlapping a run (local scheduler)', { SCHEDULER: 'local' })
  if (skipUnlessServers('warmup requests overlapping a run (BullMQ scheduler)', ['redis'])) overlapSuite('warmup requests overlapping a run (BullMQ scheduler)', { REDIS_URL: testRedisUrl! })
}
