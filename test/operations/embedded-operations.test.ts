// Operations on the embedded default (PGlite, memory cache), with real processes: a server
// runs; the CLI finds it through its runtime file and its warmup and banding import act on
// what the server serves; a second process on the same directory is refused naming the
// holder; with the server stopped a warmup says there is nothing to warm; and the server
// restarts with its data intact.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { lockFileFor } from '../../src/db/directory-lock.ts'
import { readRuntimeFile, type RuntimeFileContent } from '../../src/operations/runtime-file.ts'
import { warmListQueries } from '../helpers/integration.ts'
import { httpRequest, NodeProcess, pollFor, type HttpAnswer } from '../helpers/process-server.ts'
import { BANDING_FIXTURE } from '../helpers/source-data.ts'
import { describeResult, runCli } from '../cli/cli-process.ts'

const START_TIMEOUT_MS = 240_000

/** A pid that belonged to a process that has exited. */
const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout)

describe('embedded database: the CLI acts on the running server, one process owns the directory', () => {
  let dir = ''
  let dataDir = ''
  let runtimeFile = ''
  let logFile = ''
  let server: NodeProcess | undefined
  let announced: RuntimeFileContent | undefined
  let cliRunId = ''

  // The server's settings: no boot warmup and no schedule, so every warm key was warmed by the CLI.
  const serverEnv = (): Record<string, string> => ({ PGLITE_DIR: dataDir, WARMUP_ON_BOOT: 'false', SCHEDULER: 'off', WARM_LIST_MAX_FILTERS: '0', LOG_FILE: logFile })
  // The CLI gets only the data directory: it finds the server by itself.
  const cliEnv = (): Record<string, string> => ({ PGLITE_DIR: dataDir, WARM_LIST_MAX_FILTERS: '0' })
  const get = (urlPath: string): Promise<HttpAnswer> => {
    const port = Number(new URL(announced!.url).port)
    return httpRequest(port, 'GET', urlPath, { timeoutMs: 30_000 })
  }
  const startServer = async (): Promise<void> => {
    server = NodeProcess.spawn({ label: 'embedded server', entry: 'src/server.ts', env: { ...serverEnv(), PORT: '0' } })
    announced = await pollFor('the runtime file of the new server', START_TIMEOUT_MS, () => {
      if (!server!.running) throw new Error(`server exited\n${server!.tail()}`)
      const content = readRuntimeFile(runtimeFile)
      return content?.pid === server!.pid ? content : undefined
    }, 100)
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'embedded-ops-'))
    dataDir = path.join(dir, 'db')
    runtimeFile = `${dataDir}.server.json`
    logFile = path.join(dir, 'backend.log')
    await startServer()
  })
  after(async () => {
    await server?.stop('SIGTERM', 30_000).catch(() => server?.kill())
    await rm(dir, { recursive: true, force: true })
  })

  test('the server announces itself in an owner-only runtime file; its generated token is not in the log file', async () => {
    assert.equal(statSync(runtimeFile).mode & 0o777, 0o600)
    assert.match(announced!.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(announced!.adminToken.length >= 16)
    await server!.waitForLog('the token notice', 30_000, (line) => typeof line.msg === 'string' && line.msg.includes('ADMIN_TOKEN is not set'))
    const logged = readFileSync(logFile, 'utf8')
    assert.match(logged, /ADMIN_TOKEN is not set; a token was generated for this run, in .*server\.json/)
    assert.ok(!logged.includes(announced!.adminToken), 'the token is in no log line')
    assert.ok(!server!.lines.some((line) => line.includes(announced!.adminToken)), 'nor on stdout (not a terminal)')
  })

  test('CLI warmup --primary --verbose runs on the server: every key listed, then the server answers them from its cache', async () => {
    const query = warmListQueries('primary').find((entry) => !entry.needsOverlay)!
    const result = await runCli(['warmup', '--primary', '--verbose'], cliEnv(), 180_000)
    assert.equal(result.code, 0, describeResult(result))
    assert.match(result.stderr, /sending to the server at http:\/\/127\.0\.0\.1:\d+ \(pid \d+\)/)
    assert.match(result.stdout, /The server's settings apply/)
    const listed = [...result.stdout.matchAll(/^ok\s+[\d.]+ ms\s+(\S+)$/gm)].map((match) => match[1]!)
    assert.equal(listed.length, warmListQueries('primary').filter((entry) => !entry.needsOverlay).length, describeResult(result))
    assert.match(result.stdout, /^primary\s+\d+\s+\d+\s+0\b/m, 'the per-group table')
    const run = /^run (wu-\S+) \(cli\) succeeded/m.exec(result.stdout)
    assert.ok(run, describeResult(result))
    cliRunId = run[1]!
    const warmed = await get(query.url)
    assert.equal(warmed.status, 200)
    assert.equal(warmed.headers['x-cache'], 'hit', `${query.url} was warmed in the server by the CLI`)
    // A key the CLI did not warm is still cold in the server.
    const cold = await get('/api/schools/stats')
    assert.equal(cold.headers['x-cache'], 'miss')
    // The run is in the server's log, like any warmup.
    await pollFor('the CLI run in the log file', 30_000, () => readFileSync(logFile, 'utf8').includes(`warmup finished: run ${cliRunId}`))
  })

  test('CLI import-banding sends the file to the server, which then serves the new band', async () => {
    const before = await get('/api/schools/secondary?banding=1a')
    assert.equal(before.status, 400, 'no band 1a before the import')
    const result = await runCli(['import-banding', '--file', BANDING_FIXTURE], cliEnv(), 180_000)
    assert.equal(result.code, 0, describeResult(result))
    assert.match(result.stdout, /^Imported \d+ entries for \d+ schools; [1-9]\d* changed\./m)
    const after = await get('/api/schools/secondary?banding=1a')
    assert.equal(after.status, 200, after.body)
    const items = (JSON.parse(after.body) as { items: { banding: { code: string } | null }[] }).items
    assert.ok(items.length > 0)
    for (const item of items) assert.equal(item.banding?.code, '1a')
    await pollFor('the import in the log file', 30_000, () => readFileSync(logFile, 'utf8').includes('import finished: banding'))
  })

  test('CLI runs and scheduler status read the server', async () => {
    const runs = await runCli(['runs', '--json'], cliEnv())
    assert.equal(runs.code, 0, describeResult(runs))
    const page = JSON.parse(runs.stdout) as { items: { runId: string; trigger: string }[] }
    assert.ok(page.items.some((run) => run.runId === cliRunId && run.trigger === 'cli'), runs.stdout)
    const status = await runCli(['scheduler', 'status'], cliEnv())
    assert.equal(status.code, 0, describeResult(status))
    assert.ok(status.stdout.includes(cliRunId), status.stdout)
    // --url with a wrong token: the server's refusal, as a usage error.
    const refused = await runCli(['runs', '--url', announced!.url], { ...cliEnv(), ADMIN_TOKEN: 'not-the-server-token-0123' })
    assert.equal(refused.code, 2, describeResult(refused))
    assert.match(refused.stderr, /answered GET \/api\/scheduler\/\S+ with 401 E_UNAUTHORIZED/)
  })

  test('a second process on the same directory is refused, naming the holder and what to do', async () => {
    const second = NodeProcess.spawn({ label: 'second server', entry: 'src/server.ts', env: { ...serverEnv(), PORT: '0', LOG_FILE: '' } })
    const exit = await second.waitForExit(START_TIMEOUT_MS)
    assert.notEqual(exit.code, 0)
    const output = second.lines.join('\n')
    assert.match(output, new RegExp(`in use by process ${server!.pid}`))
    assert.match(output, /stop that server first/)
    // A CLI that does not find the server (another runtime file) and would open the directory itself.
    const direct = await runCli(['import-banding', '--file', BANDING_FIXTURE], { ...cliEnv(), RUNTIME_FILE: path.join(dir, 'none.json') })
    assert.equal(direct.code, 1, describeResult(direct))
    assert.match(direct.stderr, new RegExp(`in use by process ${server!.pid}`))
    assert.doesNotMatch(direct.stderr, /\n\s+at /, 'no stack trace')
  })

  test('with the server stopped: runtime file and lock gone, a warmup says there is nothing to warm', async () => {
    const exit = await server!.stop('SIGTERM', 60_000)
    assert.equal(exit.code, 0)
    assert.ok(!existsSync(runtimeFile), 'runtime file removed on shutdown')
    assert.ok(!existsSync(lockFileFor(dataDir)), 'lock released')
    // A runtime file left by a server that died is stale: the CLI says so and works directly.
    writeFileSync(runtimeFile, JSON.stringify({ ...announced!, pid: deadPid() }), { mode: 0o600 })
    const result = await runCli(['warmup'], cliEnv(), 180_000)
    assert.equal(result.code, 0, describeResult(result))
    assert.match(result.stderr, /stale runtime file .* \(server pid \d+ is gone\); working directly/)
    rmSync(runtimeFile)
    assert.match(result.stdout, /the cache lives in the server process: there is nothing to warm until it starts/)
    assert.doesNotMatch(result.stdout, /warmed\s+\d/)
  })

  test('the server restarts on the same directory with its data intact', async () => {
    await startServer()
    const banded = await get('/api/schools/secondary?banding=1a')
    assert.equal(banded.status, 200, banded.body)
    assert.ok((JSON.parse(banded.body) as { items: unknown[] }).items.length > 0)
    const port = Number(new URL(announced!.url).port)
    const status = await httpRequest(port, 'GET', '/api/scheduler/status', { headers: { authorization: `Bearer ${announced!.adminToken}` } })
    assert.equal(status.status, 200)
    assert.ok(status.body.includes(cliRunId), 'the run history survived')
  })
})
