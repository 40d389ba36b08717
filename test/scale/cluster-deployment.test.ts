// Several workers are one deployment: `npm start` with WORKERS=2 (what `npm start` runs:
// `schools serve`, workers from the environment) starts two HTTP workers; with ADMIN_TOKEN unset
// the primary generates one token that every worker accepts; and /metrics, whichever worker
// answers, reports the whole deployment, including the boot warmup that ran in the primary.
//
// Registered when the run has PostgreSQL and Redis (always in CI).
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { PROJECT_ROOT } from '../../src/config.ts'
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts'
import { sharedDeployment, type SharedDeployment } from '../helpers/process-deployment.ts'
import { messageOf, pollFor, type NodeProcess } from '../helpers/process-server.ts'

describe('WORKERS=2 npm start', { skip: testDatabaseUrl && testRedisUrl ? false : 'needs PostgreSQL and Redis' }, () => {
  let deployment: SharedDeployment
  let primary: NodeProcess
  const runtimeDir = mkdtempSync(path.join(os.tmpdir(), 'schools-workers-'))
  const runtimeFile = path.join(runtimeDir, 'server.json')

  before(async () => {
    const start = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start
    assert.match(start ?? '', /dist\/cli\/main\.js serve$/, 'npm start runs `schools serve`')
    deployment = await sharedDeployment('workers')
    primary = await deployment.spawn({ label: 'WORKERS=2 primary', entry: 'src/cli/main.ts', args: ['serve'], env: { WORKERS: '2', ADMIN_TOKEN: '', WARMUP_ON_BOOT: 'true', INSTANCE_ID: 'wk', RUNTIME_FILE: runtimeFile } })
    await primary.waitUntilAnswering(120_000)
  })
  after(async () => {
    primary?.kill()
    await deployment?.close()
    rmSync(runtimeDir, { recursive: true, force: true })
  })

  test('two workers answer, and the primary generated the one token they all accept', async () => {
    const listening = await primary.waitForLogs('two workers listening', 2, 60_000, (line) => messageOf(line).startsWith('school API listening on'))
    assert.equal(new Set(listening.map((line) => line.pid)).size, 2)
    // The primary generated the token and wrote it, with the URL, to the owner-only runtime file for the CLI.
    await pollFor('the runtime file', 60_000, async () => {
      try {
        return statSync(runtimeFile).isFile()
      } catch {
        return false
      }
    }, 100)
    assert.equal(statSync(runtimeFile).mode & 0o777, 0o600)
    const announced = JSON.parse(readFileSync(runtimeFile, 'utf8')) as { pid: number; adminToken: string }
    assert.notEqual(announced.pid, listening[0]!.pid)
    assert.notEqual(announced.pid, listening[1]!.pid)
    assert.ok(announced.adminToken.length >= 16)
    assert.ok(!primary.logs().some((line) => JSON.stringify(line).includes(announced.adminToken)), 'the generated token is in no log line')
    const tokens = [{ adminToken: announced.adminToken }]
    const headers = { authorization: `Bearer ${String(tokens[0]!.adminToken)}` }
    const instances = new Set<string>()
    // New connection per request: node:cluster's round robin spreads them over the workers.
    await pollFor('both workers to accept the token', 60_000, async () => {
      const answer = await primary.request('GET', '/api/scheduler/status', { headers })
      assert.equal(answer.status, 200, `a worker refused the deployment's token: ${answer.body}`)
      instances.add((JSON.parse(answer.body) as { scheduler: { instanceId?: string } }).scheduler.instanceId ?? '?')
      return instances.size >= 2
    }, 10)
    assert.deepEqual([...instances].sort(), ['wk#1', 'wk#2'])
  })

  test('a worker is ready (/health/ready 200) only once the primary\'s boot warmup has finished', async () => {
    const ready = new Set<number>()
    await pollFor('both workers ready', 180_000, async () => {
      const answer = await primary.request('GET', '/health/ready')
      if (answer.status !== 200) {
        assert.equal(answer.status, 503, answer.body)
        return false
      }
      const finished = primary.logs().some((line) => messageOf(line).startsWith('warmup finished') && line.trigger === 'boot')
      assert.ok(finished, 'a worker answered ready before the boot warmup in the primary finished')
      ready.add((JSON.parse(answer.body) as { instance: { pid: number } }).instance.pid)
      return ready.size >= 2
    }, 20)
  })

  test('/metrics on every worker reports the deployment, with the warmup series of the primary', async () => {
    const boot = await primary.waitForLog('the boot warmup to finish', 180_000, (line) => messageOf(line).startsWith('warmup finished') && line.trigger === 'boot')
    const warmupLines = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('schools_warmup_'))
    const first = await primary.request('GET', '/metrics')
    assert.equal(first.status, 200, first.body)
    const expected = warmupLines(first.body)
    assert.ok(expected.includes(`schools_warmup_runs_total{trigger="boot",status="${String(boot.status)}"} 1`), expected.join('\n'))
    assert.ok(expected.some((line) => line.startsWith('schools_warmup_keys_total{outcome="warmed"} ') && !line.endsWith(' 0')), expected.join('\n'))
    for (let i = 0; i < 10; i++) {
      const answer = await primary.request('GET', '/metrics')
      assert.equal(answer.status, 200, answer.body)
      assert.deepEqual(warmupLines(answer.body), expected)
    }
  })
})
