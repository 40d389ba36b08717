// Redis down at start is a degraded start, not a broken one. A real server process (PostgreSQL,
// SCHEDULER=bullmq) is pointed at a redis-server of this test's own that is not running yet:
// reads answer from the database, the boot warmup runs, a warmup request is answered (the run
// goes ahead in the process, since the queue is unreachable), the outage is logged once per
// component instead of once per retry, and when Redis is started the scheduler connects and
// registers its jobs there by itself. SIGTERM then shuts the process down gracefully, exit 0.
//
// Registered when the run has PostgreSQL and Redis (always in CI) and redis-server is installed.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Queue } from 'bullmq'
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts'
import { adminHeaders, sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { messageOf, pollFor, type LogLine, type NodeProcess } from '../helpers/process-server.ts'
import { OwnRedisServer, redisServerInstalled } from '../helpers/redis.ts'

const runnable = Boolean(testDatabaseUrl && testRedisUrl) && redisServerInstalled()

describe('Redis down at start', { skip: runnable ? false : 'needs PostgreSQL, Redis and redis-server' }, () => {
  let redis: OwnRedisServer
  let deployment: SharedDeployment
  let server: NodeProcess

  before(async () => {
    redis = await OwnRedisServer.reserve()
    deployment = await sharedDeployment('redisdown', { processRedisUrl: redis.url })
    server = await deployment.spawnServer('rd', { WARMUP_ON_BOOT: 'true', SCHEDULER: 'bullmq' })
    await server.waitUntilAnswering(120_000)
  })
  after(async () => {
    server?.kill()
    await deployment?.close()
    await redis?.stop()
  })

  const finishedRun = (trigger: string) => (line: LogLine): boolean => messageOf(line).startsWith('warmup finished') && line.trigger === trigger

  test('reads answer from the database and the boot warmup runs', async () => {
    for (const url of ['/api/schools/primary?district=sha-tin', '/api/schools/stats', '/api/schools/filters?level=secondary']) {
      const answer = await server.request('GET', url, { timeoutMs: 30_000 })
      assert.equal(answer.status, 200, `${url}: ${answer.body}`)
    }
    const [boot] = await server.waitForLogs('the boot warmup to finish', 1, 180_000, finishedRun('boot'))
    assert.equal(boot!.status, 'succeeded', JSON.stringify(boot))
  })

  test('a warmup request is answered: the run goes ahead in this process', async () => {
    const sync = await server.request('POST', '/api/scheduler/warmup', { headers: adminHeaders, body: JSON.stringify({ type: 'stats' }), timeoutMs: 60_000 })
    assert.equal(sync.status, 200, sync.body)
    const run = JSON.parse(sync.body) as { runId: string; status: string; groups: string[] }
    assert.equal(run.status, 'succeeded')
    assert.deepEqual(run.groups, ['stats'])
    assert.ok(server.logs().some((line) => messageOf(line).startsWith('warmup queue unreachable') && line.runId === run.runId), 'the log says why the run was not queued')

    const queued = await server.request('POST', '/api/scheduler/warmup', { headers: adminHeaders, body: JSON.stringify({ type: 'filters', async: true }), timeoutMs: 60_000 })
    assert.equal(queued.status, 202, queued.body)
    const { runId } = JSON.parse(queued.body) as { runId: string }
    const record = await pollFor(`run ${runId} to finish`, 120_000, async () => {
      const answer = await server.request('GET', `/api/scheduler/runs/${runId}`, { headers: adminHeaders })
      const body = answer.status === 200 ? JSON.parse(answer.body) as { status: string } : undefined
      return body && body.status !== 'running' ? body : undefined
    }, 200)
    assert.equal(record.status, 'succeeded')
  })

  test('the outage is logged once per component, not once per reconnect attempt', async () => {
    // By now the connections have retried many times (every two seconds at most).
    const outage = server.logs().filter((line) => /ECONNREFUSED|unreachable/.test(JSON.stringify(line)) && !messageOf(line).startsWith('warmup queue unreachable'))
    const byMessage = new Map<string, number>()
    for (const line of outage) byMessage.set(messageOf(line), (byMessage.get(messageOf(line)) ?? 0) + 1)
    assert.ok(byMessage.size > 0, 'the outage is logged')
    for (const [message, count] of byMessage) assert.equal(count, 1, `logged ${count} times: ${message}`)
    assert.ok(!outage.some((line) => JSON.stringify(line).includes('"stack"') && (line.level ?? 0) >= 50), 'no error-level stack traces')
  })

  test('when Redis starts, the scheduler connects and registers its jobs; SIGTERM exits 0', async () => {
    await redis.start()
    await server.waitForLog('the scheduler to start', 60_000, (line) => messageOf(line).startsWith('scheduler started (bullmq'))
    const queue = new Queue('warmup', { connection: { url: redis.url }, prefix: `${deployment.redisPrefix}:bull` })
    try {
      const schedulers = await queue.getJobSchedulers(0, -1, true)
      assert.deepEqual(schedulers.map((scheduler) => scheduler.key).sort(), ['daily-all-0300', 'daily-all-0800', 'noon-lists', 'stats-filters-2h'])
    } finally {
      await queue.close()
    }
    // Manual runs are queued again, and run by this instance's worker.
    const answer = await server.request('POST', '/api/scheduler/warmup', { headers: adminHeaders, body: JSON.stringify({ type: 'stats' }), timeoutMs: 60_000 })
    assert.equal(answer.status, 200, answer.body)
    const { runId } = JSON.parse(answer.body) as { runId: string }
    assert.ok(server.logs().some((line) => messageOf(line).startsWith('warmup queued') && line.runId === runId), 'queued through BullMQ')

    const exit = await server.stop('SIGTERM', 60_000)
    assert.deepEqual(exit, { code: 0, signal: null }, server.tail())
    assert.ok(server.logs().some((line) => messageOf(line) === 'shut down cleanly'), server.tail())
  })
})

describe('SIGTERM while Redis is still down', { skip: runnable ? false : 'needs PostgreSQL, Redis and redis-server' }, () => {
  let deployment: SharedDeployment
  let server: NodeProcess

  after(async () => {
    server?.kill()
    await deployment?.close()
  })

  test('shuts down gracefully and exits 0', async () => {
    const never = await OwnRedisServer.reserve()
    deployment = await sharedDeployment('redisnever', { processRedisUrl: never.url })
    server = await deployment.spawnServer('rn', { SCHEDULER: 'bullmq' })
    await server.waitUntilAnswering(120_000)
    assert.equal((await server.request('GET', '/api/schools/stats', { timeoutMs: 30_000 })).status, 200)
    const exit = await server.stop('SIGTERM', 60_000)
    assert.deepEqual(exit, { code: 0, signal: null }, server.tail())
    assert.ok(server.logs().some((line) => messageOf(line) === 'shut down cleanly'), server.tail())
  })
})
