// One process owns an embedded database, with real processes: while a server runs, a second
// server and a CLI that would open the directory are refused naming the holder; stopped, the
// server leaves no runtime file or lock; a stale runtime file is ignored; a warmup with no server
// says there is nothing to warm; the CLI then imports directly under the lock; and the server
// restarts with all of it intact.
import assert from 'node:assert/strict'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { lockFileFor } from '../../src/db/directory-lock.ts'
import { NodeProcess } from '../helpers/process-server.ts'
import { BANDING_FIXTURE } from '../helpers/source-data.ts'
import { describeResult, runCli } from '../cli/cli-process.ts'
import { deadPid, EmbeddedDeployment, START_TIMEOUT_MS } from './embedded-harness.ts'

describe('embedded database: one process owns the directory', () => {
  let deployment: EmbeddedDeployment

  before(async () => {
    deployment = await EmbeddedDeployment.create('embedded-lock')
    await deployment.start()
  })
  after(() => deployment.cleanup())

  test('a second process on the same directory is refused, naming the holder and what to do', async () => {
    const holder = deployment.server!.pid
    const second = deployment.spawnServer('second server', { LOG_FILE: '' })
    // A CLI that does not find the server (another runtime file) and would open the directory itself.
    const [exit, direct] = await Promise.all([
      second.waitForExit(START_TIMEOUT_MS),
      runCli(['import-banding', '--file', BANDING_FIXTURE], { ...deployment.cliEnv(), RUNTIME_FILE: path.join(deployment.dir, 'none.json') }),
    ])
    assert.notEqual(exit.code, 0)
    const output = second.lines.join('\n')
    assert.match(output, new RegExp(`in use by process ${holder}`))
    assert.match(output, /stop that server first/)
    assert.equal(direct.code, 1, describeResult(direct))
    assert.match(direct.stderr, new RegExp(`in use by process ${holder}`))
    assert.doesNotMatch(direct.stderr, /\n\s+at /, 'no stack trace')
  })

  test('stopped, the server leaves no runtime file or lock; a stale runtime file is ignored; a warmup has nothing to warm', async () => {
    const exit = await deployment.server!.stop('SIGTERM', 60_000)
    assert.equal(exit.code, 0)
    assert.ok(!existsSync(deployment.runtimeFile), 'runtime file removed on shutdown')
    assert.ok(!existsSync(lockFileFor(deployment.dataDir)), 'lock released')
    // A runtime file left by a server that died is stale: the CLI says so and works directly.
    writeFileSync(deployment.runtimeFile, JSON.stringify({ ...deployment.announced!, pid: deadPid() }), { mode: 0o600 })
    const result = await runCli(['warmup'], deployment.cliEnv(), 180_000)
    rmSync(deployment.runtimeFile)
    assert.equal(result.code, 0, describeResult(result))
    assert.match(result.stderr, /stale runtime file .* \(server pid \d+ is gone\); working directly/)
    assert.match(result.stdout, /the cache lives in the server process: there is nothing to warm until it starts/)
    assert.doesNotMatch(result.stdout, /warmed\s+\d/)
  })

  test('with no server the CLI imports directly under the lock; the server restarts with its data intact', async () => {
    const imported = await runCli(['import-banding', '--file', BANDING_FIXTURE], deployment.cliEnv(), 180_000)
    assert.equal(imported.code, 0, describeResult(imported))
    assert.match(imported.stderr, /no server running: working on the database directly/)
    assert.match(imported.stdout, /^Imported \d+ entries for \d+ schools; [1-9]\d* changed\./m)
    assert.ok(!existsSync(lockFileFor(deployment.dataDir)), 'the CLI released the lock')
    await deployment.start()
    const banded = await deployment.request('GET', '/api/schools/secondary?banding=1a')
    assert.equal(banded.status, 200, banded.body)
    assert.ok((JSON.parse(banded.body) as { items: unknown[] }).items.length > 0)
    const primary = await deployment.request('GET', '/api/schools/primary')
    assert.equal(primary.status, 200)
    assert.ok((JSON.parse(primary.body) as { total: number }).total > 600, 'the bundled schools are still there')
  })
})

describe('schools serve --workers 2 on the embedded database', () => {
  test('refuses to start, naming WORKERS and DATABASE_URL, instead of workers refused one by one', async () => {
    const deployment = await EmbeddedDeployment.create('embedded-workers')
    try {
      const cli = NodeProcess.spawn({ label: 'schools serve --workers 2', entry: 'src/cli/main.ts', args: ['serve', '--workers', '2'], env: { ...deployment.serverEnv(), REDIS_URL: 'redis://127.0.0.1:1', LOG_FILE: '' } })
      const exit = await cli.waitForExit(60_000)
      const output = cli.lines.join('\n')
      assert.notEqual(exit.code, 0, output)
      assert.match(output, /WORKERS is 2 but DATABASE_URL is not set/, output)
      assert.ok(!existsSync(lockFileFor(deployment.dataDir)), 'the database was never opened')
    } finally {
      await deployment.cleanup()
    }
  })
})
