// Issue 4, one machine with several workers: `schools serve --workers 3` as a real process tree
// (`node --import tsx src/cli/main.ts serve --workers 3`). The primary runs the only scheduler
// (one 'scheduler started' line, one BullMQ worker); three HTTP workers answer on one port
// (told apart by the pid /health reports); a worker killed with SIGKILL is replaced while
// requests keep succeeding; SIGTERM to the primary lets a request in flight (held on its way to
// the database until every worker is shutting down, see cluster-support.ts) finish with a 200,
// and the primary exits 0. (Without REDIS_URL it refuses to start: cluster-needs-redis.test.ts.)
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { skipUnlessServers, testDatabaseUrl } from '../helpers/env.ts'
import { FaultProxy } from '../helpers/faults-proxy.ts'
import { sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { delay, messageOf, pollFor, processAlive, type LogLine, type NodeProcess } from '../helpers/process-server.ts'
import { requestInFlightAcrossShutdown } from './cluster-support.ts'

interface Health {
  status: string
  instance: { id: string; pid: number }
}

const isListening = (line: LogLine): boolean => messageOf(line).startsWith('school API listening on')

if (skipUnlessServers('cluster of workers', ['postgres', 'redis'])) {
  describe('schools serve --workers 3', () => {
    let deployment: SharedDeployment
    let primary: NodeProcess
    let workerPids: number[] = []
    let proxy: FaultProxy

    const health = async (): Promise<Health> => {
      const answer = await primary.request('GET', '/health', { timeoutMs: 5000 })
      assert.equal(answer.status, 200, answer.body)
      return JSON.parse(answer.body) as Health
    }
    /** Asks /health over new connections until `count` different worker pids have answered. */
    const answeringPids = async (count: number, timeoutMs: number): Promise<Map<number, string>> => {
      const seen = new Map<number, string>()
      await pollFor(`${count} workers to answer`, timeoutMs, async () => {
        const { instance } = await health()
        seen.set(instance.pid, instance.id)
        return seen.size >= count
      }, 10)
      return seen
    }

    before(async () => {
      // The processes reach PostgreSQL through a proxy, which the shutdown test holds.
      const database = new URL(testDatabaseUrl!)
      proxy = await FaultProxy.start({ host: database.hostname, port: Number(database.port || 5432) })
      deployment = await sharedDeployment('cluster', { processDatabaseUrl: proxy.rewrite(testDatabaseUrl!) })
      primary = await deployment.spawn({ label: 'cluster primary', entry: 'src/cli/main.ts', args: ['serve', '--workers', '3'], env: { INSTANCE_ID: 'cl', DATABASE_TIMEOUT_MS: '10000' } })
    })
    after(async () => {
      primary?.kill()
      await deployment?.close()
      await proxy?.close()
    })

    test('one scheduler in the primary, three HTTP workers answering on one port', async () => {
      const listening = await primary.waitForLogs('three workers listening', 3, 90_000, isListening)
      await primary.waitForLog('the scheduler to start', 30_000, (line) => messageOf(line).startsWith('scheduler started'))
      workerPids = listening.map((line) => line.pid!)
      assert.equal(new Set(workerPids).size, 3, 'three worker processes')
      assert.ok(!workerPids.includes(primary.pid), 'the primary does not serve HTTP')

      const schedulerStarts = primary.logs().filter((line) => messageOf(line).startsWith('scheduler started'))
      assert.deepEqual(schedulerStarts.map((line) => line.pid), [primary.pid], 'exactly one scheduler, in the primary')
      const bullmqWorkers = await deployment.queue().getWorkers()
      const names = [...new Set(bullmqWorkers.map((client) => String(client.rawname).split(':w:')[1]))]
      assert.deepEqual(names, ['cl#primary'], 'one BullMQ worker, the primary\'s')

      const answering = await answeringPids(3, 20_000)
      assert.deepEqual([...answering.keys()].sort(), [...workerPids].sort(), 'each worker answers')
      assert.deepEqual([...answering.values()].sort(), ['cl#1', 'cl#2', 'cl#3'])
      const stats = await primary.request('GET', '/api/schools/stats')
      assert.equal(stats.status, 200)
      console.log(`[scale] cluster: primary pid ${primary.pid} runs the only scheduler (${bullmqWorkers.length} BullMQ worker connection(s) named cl#primary); HTTP workers ${[...answering].map(([pid, id]) => `${id}=${pid}`).join(', ')}`)
    })

    test('a worker killed with SIGKILL is replaced, and requests keep succeeding meanwhile', async () => {
      const victim = workerPids[0]!
      process.kill(victim, 'SIGKILL')
      await pollFor(`worker ${victim} to be gone`, 10_000, () => !processAlive(victim))
      const killedAt = Date.now()
      // Every request while the replacement starts is counted, failures included (pollFor would swallow them).
      const outcomes: string[] = []
      let replacement: number | undefined
      const deadline = killedAt + 60_000
      while (replacement === undefined && Date.now() < deadline) {
        for (const urlPath of ['/api/schools/stats', '/health']) {
          try {
            const answer = await primary.request('GET', urlPath, { timeoutMs: 10_000 })
            outcomes.push(String(answer.status))
            const pid = urlPath === '/health' && answer.status === 200 ? (JSON.parse(answer.body) as Health).instance.pid : undefined
            if (pid !== undefined && !workerPids.includes(pid)) replacement = pid
          } catch (error) {
            outcomes.push(`${urlPath}: ${(error as Error).message}`)
          }
        }
        await delay(20)
      }
      assert.ok(replacement !== undefined, `a replacement worker answered within 60 s\n${primary.tail()}`)
      const replacedAfterMs = Date.now() - killedAt
      const failed = outcomes.filter((outcome) => outcome !== '200')
      assert.deepEqual(failed, [], `every one of ${outcomes.length} requests succeeded`)
      await primary.waitForLog('the primary reporting the dead worker', 5000, (line) => messageOf(line).startsWith(`worker ${victim} died`))
      const answering = await answeringPids(3, 20_000)
      assert.ok(!answering.has(victim))
      assert.ok(answering.has(replacement!))
      assert.deepEqual([...answering.values()].sort(), ['cl#1', 'cl#2', 'cl#3'], 'the replacement took the dead worker\'s slot')
      workerPids = [...answering.keys()]
      console.log(`[scale] cluster: worker ${victim} killed; replacement ${replacement} answering ${replacedAfterMs} ms later; ${outcomes.length} requests meanwhile, all 200`)
    })

    test('SIGTERM to the primary lets a request in flight finish with a 200, and the primary exits 0', async () => {
      const held = await requestInFlightAcrossShutdown({ primary, workerPids, proxy, db: deployment.db, signal: () => primary.signal('SIGTERM') })
      const exit = await primary.waitForExit(40_000)
      assert.deepEqual(exit, { code: 0, signal: null }, 'the primary exits 0')
      await primary.waitForLog('a clean shutdown', 1000, (line) => messageOf(line) === 'cluster shut down cleanly')
      assert.deepEqual(workerPids.filter(processAlive), [], 'no worker outlives the primary')
      console.log(`[scale] cluster: SIGTERM to the primary while a cold request waited on the database: every worker began stopping, the query was let through ${held.heldAfterShutdownMs} ms later, ` +
        `the request answered 200 ${held.answeredAfterMs} ms after the signal; the primary exited 0`)
    })
  })
}
