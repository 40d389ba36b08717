// Configuration is checked at start, before anything opens: every SCHEDULE entry (name, cron in
// the time zone, duplicates, group names' form) and REDIS_PREFIX, and a bad value stops the
// server with one line naming the variable, not a stack trace.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { DEFAULT_SCHEDULE, loadConfig } from '../src/config.ts'
import { ConfigError } from '../src/errors.ts'
import { NodeProcess } from './helpers/process-server.ts'

function configError(env: Record<string, string>, variable: string, message: RegExp): void {
  assert.throws(() => loadConfig(env), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error))
    assert.equal(error.context.variable, variable)
    assert.match(error.message, message)
    return true
  })
}

test('SCHEDULE: a valid one is read as jobs, an empty one is the default', () => {
  assert.deepEqual(loadConfig({ SCHEDULE: 'nightly=0 3 * * *=all;lists=0 12 * * *=primary+secondary;tick=* * * * * *=stats' }).schedule, [
    { name: 'nightly', cron: '0 3 * * *', groups: ['all'] },
    { name: 'lists', cron: '0 12 * * *', groups: ['primary', 'secondary'] },
    { name: 'tick', cron: '* * * * * *', groups: ['stats'] },
  ])
  assert.deepEqual(loadConfig({ SCHEDULE: ' ' }).schedule, DEFAULT_SCHEDULE)
})

test('SCHEDULE: every part of every entry is checked at start', () => {
  configError({ SCHEDULE: 'nightly=61 3 * * *=all' }, 'SCHEDULE', /job 'nightly' has an invalid cron expression '61 3 \* \* \*'/)
  configError({ SCHEDULE: 'nightly=every day=all' }, 'SCHEDULE', /job 'nightly' has an invalid cron expression 'every day'/)
  configError({ SCHEDULE: 'a=0 3 * * *=all;a=0 4 * * *=stats' }, 'SCHEDULE', /names job 'a' twice/)
  configError({ SCHEDULE: 'a=0 3 * * *' }, 'SCHEDULE', /entry 'a=0 3 \* \* \*' must look like name=cron=group\+group/)
  configError({ SCHEDULE: 'a b=0 3 * * *=all' }, 'SCHEDULE', /must look like name=cron=group\+group/)
  configError({ SCHEDULE: 'a=0 3 * * *=all=more' }, 'SCHEDULE', /must look like/)
  configError({ SCHEDULE: 'a=0 3 * * *=all+st*ts' }, 'SCHEDULE', /job 'a' must name warmup groups joined by '\+', got 'all\+st\*ts'/)
  configError({ SCHEDULE: 'a=0 3 30 2 *=all' }, 'SCHEDULE', /job 'a': cron expression '0 3 30 2 \*' never fires/)
})

test('REDIS_PREFIX: letters, digits and _ . : - only (it is a SCAN pattern), default schools', () => {
  assert.equal(loadConfig({}).redisPrefix, 'schools')
  assert.equal(loadConfig({ REDIS_PREFIX: 'school-finder:prod_2' }).redisPrefix, 'school-finder:prod_2')
  for (const bad of ['a b', 'keys*', 'a?b', '[ab]', ':leading', 'x'.repeat(101)]) {
    configError({ REDIS_PREFIX: bad }, 'REDIS_PREFIX', /must be 1 to 100 letters, digits/)
  }
})

test('a bad variable stops the server with one line naming it, before the database is opened', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'config-test-'))
  const pgliteDir = path.join(dir, 'db')
  try {
    for (const [variable, value] of [['SCHEDULE', 'nightly=61 3 * * *=all'], ['REDIS_PREFIX', 'a b'], ['PORT', 'abc']] as const) {
      const server = NodeProcess.spawn({ label: `server with ${variable}=${value}`, entry: 'src/server.ts', env: { PGLITE_DIR: pgliteDir, LOG_FILE: '', [variable]: value } })
      const exit = await server.waitForExit(60_000)
      await server.waitForLogs('nothing more', 0, 1000, () => true)
      assert.equal(exit.code, 1, server.tail())
      assert.equal(server.lines.length, 1, server.tail())
      assert.match(server.lines[0]!, new RegExp(`^schools: Invalid configuration: ${variable} `))
      assert.equal(existsSync(pgliteDir), false, 'the database was not opened')
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
