// Operations on the embedded default (PGlite, memory cache), with real processes: a server
// runs; the CLI finds it through its runtime file, and its warmup and banding import act on
// what the server serves; runs and status are the server's; the generated token stays out of
// the log. The lock and restart: embedded-lock.test.ts.
import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { after, before, describe, test } from 'node:test'
import { warmListQueries } from '../helpers/integration.ts'
import { pollFor } from '../helpers/process-server.ts'
import { BANDING_FIXTURE } from '../helpers/source-data.ts'
import { describeResult, runCli } from '../cli/cli-process.ts'
import { EmbeddedDeployment } from './embedded-harness.ts'

describe('embedded database: the CLI acts on the running server', () => {
  let deployment: EmbeddedDeployment
  let cliRunId = ''

  before(async () => {
    deployment = await EmbeddedDeployment.create('embedded-ops')
    await deployment.start()
  })
  after(() => deployment.cleanup())

  test('the server announces itself in an owner-only runtime file; its generated token is not in the log file', async () => {
    const { announced, server } = deployment
    assert.equal(statSync(deployment.runtimeFile).mode & 0o777, 0o600)
    assert.match(announced!.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(announced!.adminToken.length >= 16)
    await server!.waitForLog('the token notice', 30_000, (line) => typeof line.msg === 'string' && line.msg.includes('ADMIN_TOKEN is not set'))
    // The log file is written asynchronously: the line may reach it after stdout.
    const logged = await pollFor('the token notice in the log file', 30_000, () => {
      const text = readFileSync(deployment.logFile, 'utf8')
      return text.includes('ADMIN_TOKEN is not set') && text
    })
    assert.match(logged, /ADMIN_TOKEN is not set; a token was generated for this run, in .*server\.json/)
    assert.ok(!logged.includes(announced!.adminToken), 'the token is in no log line')
    assert.ok(!server!.lines.some((line) => line.includes(announced!.adminToken)), 'nor on stdout (not a terminal)')
  })

  test('CLI warmup --primary --verbose runs on the server: every key listed, then the server answers them from its cache', async () => {
    const query = warmListQueries('primary').find((entry) => !entry.needsOverlay)!
    const result = await runCli(['warmup', '--primary', '--verbose'], deployment.cliEnv(), 180_000)
    assert.equal(result.code, 0, describeResult(result))
    assert.match(result.stderr, /sending to the server at http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/)
    assert.match(result.stdout, /The server's settings apply/)
    const listed = [...result.stdout.matchAll(/^ok\s+[\d.]+ ms\s+(\S+)$/gm)].map((match) => match[1]!)
    assert.equal(listed.length, warmListQueries('primary').filter((entry) => !entry.needsOverlay).length, describeResult(result))
    assert.match(result.stdout, /^primary\s+\d+\s+\d+\s+0\b/m, 'the per-group table')
    const run = /^run (wu-\S+) \(cli\) succeeded/m.exec(result.stdout)
    assert.ok(run, describeResult(result))
    cliRunId = run[1]!
    const warmed = await deployment.request('GET', query.url)
    assert.equal(warmed.status, 200)
    assert.equal(warmed.headers['x-cache'], 'hit', `${query.url} was warmed in the server by the CLI`)
    // A key the CLI did not warm is still cold in the server.
    const cold = await deployment.request('GET', '/api/schools/stats')
    assert.equal(cold.headers['x-cache'], 'miss')
    // The run is in the server's log, like any warmup.
    await pollFor('the CLI run in the log file', 30_000, () => readFileSync(deployment.logFile, 'utf8').includes(`warmup finished: run ${cliRunId}`))
  })

  test('CLI import-banding sends the file to the server, which then serves the new band', async () => {
    const before = await deployment.request('GET', '/api/schools/secondary?banding=1a')
    assert.equal(before.status, 400, 'no band 1a before the import')
    const result = await runCli(['import-banding', '--file', BANDING_FIXTURE], deployment.cliEnv(), 180_000)
    assert.equal(result.code, 0, describeResult(result))
    assert.match(result.stdout, /^Imported \d+ entries for \d+ schools; [1-9]\d* changed\./m)
    const after = await deployment.request('GET', '/api/schools/secondary?banding=1a')
    assert.equal(after.status, 200, after.body)
    const items = (JSON.parse(after.body) as { items: { banding: { code: string } | null }[] }).items
    assert.ok(items.length > 0)
    for (const item of items) assert.equal(item.banding?.code, '1a')
    await pollFor('the import in the log file', 30_000, () => readFileSync(deployment.logFile, 'utf8').includes('import finished: banding'))
  })

  test('CLI runs and scheduler status read the server; --url with a wrong token is refused', async () => {
    const [runs, status, refused] = await Promise.all([
      runCli(['runs', '--json'], deployment.cliEnv()),
      runCli(['scheduler', 'status'], deployment.cliEnv()),
      runCli(['runs', '--url', deployment.announced!.url], { ...deployment.cliEnv(), ADMIN_TOKEN: 'not-the-server-token-0123' }),
    ])
    assert.equal(runs.code, 0, describeResult(runs))
    const page = JSON.parse(runs.stdout) as { items: { runId: string; trigger: string }[] }
    assert.ok(page.items.some((run) => run.runId === cliRunId && run.trigger === 'cli'), runs.stdout)
    assert.equal(status.code, 0, describeResult(status))
    assert.ok(status.stdout.includes(cliRunId), status.stdout)
    // The server's refusal, as a usage error.
    assert.equal(refused.code, 2, describeResult(refused))
    assert.match(refused.stderr, /answered GET \/api\/scheduler\/\S+ with 401 E_UNAUTHORIZED/)
  })
})
