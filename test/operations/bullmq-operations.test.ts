// Operations on PostgreSQL + Redis (BullMQ), with real processes: `warmup --verbose` lists
// every key and the per-group table when the server runs the job, whether the CLI sent the
// command to the server or queued the job itself; the CLI says whose settings applied; and a
// run the CLI executes itself is in the log file like any other.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { readRuntimeFile, type RuntimeFileContent } from '../../src/operations/runtime-file.ts'
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts'
import { urlForKey, warmListQueries } from '../helpers/integration.ts'
import { httpRequest, NodeProcess, pollFor } from '../helpers/process-server.ts'
import { cliTarget, describeResult, runCli, type CliTarget } from '../cli/cli-process.ts'

const primaryUrls = (): string[] => warmListQueries('primary').filter((query) => !query.needsOverlay).map((query) => query.url).sort()
const listedUrls = (stdout: string): string[] => [...stdout.matchAll(/^ok\s+[\d.]+ ms\s+(\S+)$/gm)].map((match) => urlForKey(match[1]!)).sort()

describe('PostgreSQL + Redis: the CLI and a server running the warmup job', { skip: testDatabaseUrl && testRedisUrl ? false : 'needs PostgreSQL and Redis' }, () => {
  let target: CliTarget | undefined
  let dir = ''
  let server: NodeProcess | undefined
  let announced: RuntimeFileContent | undefined

  const runtimeFile = (): string => path.join(dir, 'server.json')
  const serverLog = (): string => path.join(dir, 'server.log')

  before(async () => {
    target = await cliTarget()
    dir = await mkdtemp(path.join(tmpdir(), 'bullmq-ops-'))
    server = NodeProcess.spawn({
      label: 'server',
      entry: 'src/server.ts',
      env: { ...target.env, PORT: '0', WARMUP_ON_BOOT: 'false', RUNTIME_FILE: runtimeFile(), LOG_FILE: serverLog(), ADMIN_TOKEN: 'operations-test-token-0123456789' },
    })
    announced = await pollFor('the runtime file', 240_000, () => {
      if (!server!.running) throw new Error('server exited')
      return readRuntimeFile(runtimeFile())
    }, 100).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${server!.tail()}`)
    })
  })
  after(async () => {
    await server?.stop('SIGTERM', 30_000).catch(() => server?.kill())
    await target?.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  test('through the runtime file: the server runs the job, the CLI lists every key and says the server settings applied', async () => {
    const result = await runCli(['warmup', '--primary', '--verbose'], { ...target!.env, RUNTIME_FILE: runtimeFile(), WARMUP_CONCURRENCY: '7' }, 180_000)
    assert.equal(result.code, 0, describeResult(result))
    assert.match(result.stderr, /sending to the server at/)
    assert.deepEqual(listedUrls(result.stdout), primaryUrls(), describeResult(result))
    assert.match(result.stdout, /^primary\s+\d+\s+\d+\s+0\b/m, 'the per-group table')
    assert.match(result.stdout, /The server's settings apply .*WARMUP_CONCURRENCY=4/)
    assert.match(result.stdout, /This CLI's WARMUP_CONCURRENCY=7 are not used/)
    const run = /^run (wu-\S+) \(cli\) succeeded on (\S+)/m.exec(result.stdout)
    assert.ok(run, describeResult(result))
    // The server's worker took it: its instance, and its log.
    assert.doesNotMatch(run[2]!, /^cli-/)
    await pollFor('the run in the server log', 30_000, () => readFileSync(serverLog(), 'utf8').includes(`warmup finished: run ${run[1]}`))
    const port = Number(new URL(announced!.url).port)
    const answer = await httpRequest(port, 'GET', primaryUrls()[0]!)
    assert.equal(answer.headers['x-cache'], 'hit')
  })

  test('without finding the server, the CLI queues the job itself; whichever process runs it, --verbose lists every key', async () => {
    const logFile = path.join(dir, 'cli.log')
    const result = await runCli(['warmup', '--primary', '--verbose'], { ...target!.env, RUNTIME_FILE: path.join(dir, 'elsewhere.json'), LOG_FILE: logFile }, 180_000)
    assert.equal(result.code, 0, describeResult(result))
    assert.match(result.stderr, /no server running: working on the database directly/)
    assert.deepEqual(listedUrls(result.stdout), primaryUrls(), describeResult(result))
    assert.match(result.stdout, /^primary\s+\d+\s+\d+\s+0\b/m)
    const run = /^run (wu-\S+) \(cli\) succeeded on (\S+)/m.exec(result.stdout)
    assert.ok(run, describeResult(result))
    // The process that ran it logged it; a CLI run is in the CLI's log file with the same lines.
    // A running server writes its log file asynchronously: the lines may land a moment later.
    await pollFor('the run\'s started and finished lines in a log file', 30_000, () => {
      const logs = `${readFileSync(serverLog(), 'utf8')}\n${readFileSync(logFile, 'utf8')}`
      return logs.includes(`warmup started: run ${run[1]}`) && logs.includes(`warmup finished: run ${run[1]}`)
    })
    if (run[2]!.startsWith('cli-')) {
      assert.ok(readFileSync(logFile, 'utf8').includes(`warmup finished: run ${run[1]}`))
    } else {
      assert.match(result.stdout, /was executed by .*: that process's settings applied/)
    }
  })

  test('clear-and-warmup and import through the runtime file run on the server', async () => {
    const env = { ...target!.env, RUNTIME_FILE: runtimeFile() }
    const cleared = await runCli(['clear-and-warmup', '--json'], env, 180_000)
    const imported = await runCli(['import', '--json'], env, 180_000)
    assert.equal(cleared.code, 0, describeResult(cleared))
    const run = JSON.parse(cleared.stdout) as { trigger: string; status: string; instance: string; failed: number }
    assert.equal(run.trigger, 'cli:clear')
    assert.equal(run.failed, 0)
    assert.doesNotMatch(run.instance, /^cli-/, 'run by the server')
    assert.equal(imported.code, 0, describeResult(imported))
    // No file given: the server's bundled files, which it already holds.
    assert.equal((JSON.parse(imported.stdout) as { unchanged: boolean }).unchanged, true)
  })

  test('the admin token given in ADMIN_TOKEN is redacted from the log', () => {
    assert.ok(!readFileSync(serverLog(), 'utf8').includes('operations-test-token-0123456789'))
  })
})
