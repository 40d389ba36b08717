// What an operator sees: Prometheus counters for cache outcomes, database statements and warmup
// runs, and log lines for the scheduler and every run, read back from the log file the app
// writes (LOG_FILE, LOG_LEVEL=info).
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/app.ts'
import { adminPost, closeTestApp, eventually, get, preferredBackend } from '../helpers/integration.ts'

interface LogLine {
  level: number
  msg: string
  [field: string]: unknown
}

/** A counter's value for exactly these labels, or undefined when the series is absent. */
function sample(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`).sort()
  for (const line of metrics.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!match || match[1] !== name) continue
    const have = (match[2] ?? '').split(',').filter(Boolean).sort()
    if (have.length === wanted.length && have.every((label, index) => label === wanted[index])) return Number(match[3])
  }
  return undefined
}

describe(`metrics and logs [${preferredBackend}]`, () => {
  let logDir: string
  let logFile: string
  let testApp: TestApp | undefined
  const app = (): TestApp => testApp!

  before(async () => {
    logDir = await mkdtemp(path.join(tmpdir(), 'schools-log-'))
    logFile = path.join(logDir, 'backend.log')
    testApp = await createTestApp({ backend: preferredBackend, env: { LOG_LEVEL: 'info', LOG_FILE: logFile, SCHEDULER: 'local' } })
    await app().runtime.scheduler!.start()
  })

  after(async () => {
    await closeTestApp(testApp)
    await rm(logDir, { recursive: true, force: true })
  })

  const logLines = async (): Promise<LogLine[]> => {
    const text = await readFile(logFile, 'utf8').catch(() => '')
    return text.split('\n').filter((line) => line.startsWith('{')).flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine]
      } catch {
        return [] // a line still being written
      }
    })
  }

  test('GET /metrics counts cache hits and misses, database statements and warmup runs', async () => {
    const summary = await app().runtime.runner.run({ groups: ['all'], trigger: 'test' })
    assert.equal(summary.failed, 0)
    assert.equal((await get(app(), '/api/schools/primary?district=wan-chai')).headers['x-cache'], 'miss')
    assert.equal((await get(app(), '/api/schools/primary?district=wan-chai')).headers['x-cache'], 'hit')
    await app().runtime.cache.expireAll()
    assert.equal((await get(app(), '/api/schools/stats')).headers['x-cache'], 'stale')

    const answer = await get(app(), '/metrics')
    assert.equal(answer.status, 200)
    assert.match(String(answer.headers['content-type']), /^text\/plain/)
    const metrics = answer.body
    assert.ok((sample(metrics, 'schools_cache_requests_total', { policy: 'list', state: 'miss' }) ?? 0) >= 1, metrics)
    assert.ok((sample(metrics, 'schools_cache_requests_total', { policy: 'list', state: 'hit' }) ?? 0) >= 1)
    assert.ok((sample(metrics, 'schools_cache_requests_total', { policy: 'stats', state: 'stale' }) ?? 0) >= 1)
    assert.ok((sample(metrics, 'schools_db_queries_total', { outcome: 'ok' }) ?? 0) >= summary.keys)
    assert.equal(sample(metrics, 'schools_warmup_runs_total', { trigger: 'test', status: 'succeeded' }), 1)
    assert.equal(sample(metrics, 'schools_warmup_keys_total', { outcome: 'warmed' }), summary.warmed)
    assert.ok((sample(metrics, 'schools_cache_keys', {}) ?? 0) >= summary.keys)
    assert.match(metrics, /^# HELP schools_db_query_seconds /m)

    const admin = await adminPost(app(), '/api/scheduler/warmup', { type: 'stats' })
    assert.equal(admin.status, 200)
    const after = (await get(app(), '/metrics')).body
    assert.equal(sample(after, 'schools_warmup_runs_total', { trigger: 'admin', status: 'succeeded' }), 1)
  })

  test('the log file has the scheduler start, each job registration, and the start and end of every run', async () => {
    const summary = await app().runtime.runner.run({ groups: ['stats'], trigger: 'test' })
    const lines = await eventually(async () => {
      const all = await logLines()
      return all.some((line) => line.runId === summary.runId && /finished/.test(line.msg)) ? all : undefined
    }, 10_000, `the end of run ${summary.runId} in ${logFile}`)

    const started = lines.find((line) => line.runId === summary.runId && /warmup started/.test(line.msg))
    const ended = lines.find((line) => line.runId === summary.runId && /warmup finished/.test(line.msg))
    assert.ok(started, 'a start line for the run')
    assert.ok(ended, 'an end line for the run')
    assert.match(started.msg, /warmup/)
    assert.match(ended.msg, /warmup/)
    assert.equal(ended.status, 'succeeded')
    assert.equal(ended.keys, 1)
    assert.equal(typeof ended.durationMs, 'number')
    assert.ok(lines.indexOf(started) < lines.indexOf(ended))

    // Fields of our own never shadow pino's: `level` stays the numeric log level on every line.
    for (const line of lines) assert.equal(typeof line.level, 'number', JSON.stringify(line))

    const schedulerStart = lines.find((line) => /scheduler/.test(line.msg) && /started/.test(line.msg))
    assert.ok(schedulerStart, 'a scheduler start line')
    for (const job of ['daily-all-0300', 'daily-all-0800', 'noon-lists', 'stats-filters-2h']) {
      const registered = lines.find((line) => line.job === job && /scheduler/.test(line.msg))
      assert.ok(registered, `a registration line for ${job}`)
      assert.ok(registered.nextRun, `${job} registration says when it runs next`)
    }
    // The admin API was called with the token above; it never reaches the log.
    assert.equal((await readFile(logFile, 'utf8')).includes(TEST_ADMIN_TOKEN), false)
  })
})
