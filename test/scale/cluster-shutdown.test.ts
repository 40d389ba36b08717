// How `schools serve --workers N` stops, beyond the plain SIGTERM to the primary (cluster.test.ts):
// - the way a terminal (Ctrl-C) or systemd (KillMode=control-group, its default) stops it: the
//   signal goes to every process of the group, so each worker gets it directly, at the same moment
//   as the primary, which then asks the workers to stop as well. A worker must take that as one
//   shutdown, not as a second, forcing signal: a request in flight (held on its way to the
//   database, see cluster-support.ts) still completes with a 200 and every process exits 0;
// - stopped while its workers are still starting (loading modules, not yet able to hear the
//   primary): it must exit 0 at once, not wait for the 30 s shutdown timeout to kill them.
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { skipUnlessServers, testDatabaseUrl } from '../helpers/env.ts'
import { FaultProxy } from '../helpers/faults-proxy.ts'
import { sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { messageOf, pollFor, processAlive } from '../helpers/process-server.ts'
import { requestInFlightAcrossShutdown } from './cluster-support.ts'

if (skipUnlessServers('cluster shutdown', ['postgres', 'redis'])) {
  describe('schools serve --workers N shutting down', () => {
    let deployment: SharedDeployment
    let proxy: FaultProxy

    before(async () => {
      const database = new URL(testDatabaseUrl!)
      proxy = await FaultProxy.start({ host: database.hostname, port: Number(database.port || 5432) })
      deployment = await sharedDeployment('cluster_stop', { processDatabaseUrl: proxy.rewrite(testDatabaseUrl!) })
    })
    after(async () => {
      await deployment?.close()
      await proxy?.close()
    })

    // SIGTERM as systemd sends it; Ctrl-C's SIGINT takes the same path in the worker (runWorker).
    test('SIGTERM to the whole group lets a request in flight finish with a 200; every process exits 0', async () => {
      const primary = await deployment.spawn({ label: 'cluster primary', entry: 'src/cli/main.ts', args: ['serve', '--workers', '2'], env: { INSTANCE_ID: 'grp', DATABASE_TIMEOUT_MS: '10000' } })
      const listening = await primary.waitForLogs('two workers listening', 2, 90_000, (line) => messageOf(line).startsWith('school API listening on'))
      await primary.waitForLog('the scheduler to start', 30_000, (line) => messageOf(line).startsWith('scheduler started'))
      const workerPids = listening.map((line) => line.pid!)
      // The whole group, as systemd (or a terminal) signals it: each worker hears it and the primary's request.
      const held = await requestInFlightAcrossShutdown({ primary, workerPids, proxy, db: deployment.db, signal: () => process.kill(-primary.pid, 'SIGTERM') })
      const exit = await primary.waitForExit(40_000)
      assert.deepEqual(exit, { code: 0, signal: null }, 'the primary exits 0')
      await pollFor('the workers to be gone', 5000, () => workerPids.every((pid) => !processAlive(pid)))
      const failures = primary.logs().filter((line) => /shutdown failed/i.test(messageOf(line)))
      assert.deepEqual(failures, [], 'every process shut down cleanly')
      console.log(`[scale] cluster, SIGTERM to the process group: the request in flight answered 200 ${held.answeredAfterMs} ms after the signal (held ${held.heldAfterShutdownMs} ms after every worker began stopping); the primary exited 0`)
    })

    test('SIGTERM to the primary while its workers are still starting: exit 0 at once, no worker left', async () => {
      const primary = await deployment.spawn({ label: 'cluster primary (stopped early)', entry: 'src/cli/main.ts', args: ['serve', '--workers', '3'], env: { INSTANCE_ID: 'early' } })
      // The primary is up (its scheduler started) and has forked its workers; they take seconds to load.
      await primary.waitForLog('the scheduler to start', 60_000, (line) => messageOf(line).startsWith('scheduler started'))
      const listeningBefore = primary.logs().filter((line) => messageOf(line).startsWith('school API listening on')).length
      const signalledAt = Date.now()
      primary.signal('SIGTERM')
      const exit = await primary.waitForExit(90_000)
      const tookMs = Date.now() - signalledAt
      assert.deepEqual(exit, { code: 0, signal: null }, 'the primary exits 0')
      // The group is the primary's pid (spawned detached): signal 0 to it fails once no member is left.
      await pollFor('every worker to be gone', 30_000, () => !processAlive(-primary.pid))
      // The property: the primary did not sit out its 30 s shutdown timeout (SHUTDOWN_TIMEOUT_MS in src/cluster.ts).
      assert.ok(tookMs < 30_000, `stopped in ${tookMs} ms, not after the 30 s shutdown timeout`)
      console.log(`[scale] cluster stopped while starting (${listeningBefore} of 3 workers listening): primary exited 0 ${tookMs} ms after SIGTERM, no worker left`)
    })
  })
}
