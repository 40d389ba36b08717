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

test('every variable is checked against the schema, and the error says what it allows', () => {
  configError({ PORT: 'abc' }, 'PORT', /^Invalid configuration: PORT must be an integer from 0 to 65535, got 'abc'$/)
  configError({ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', /must be one of fatal, error, warn, info, debug, trace, silent, got 'verbose'/)
  configError({ CACHE_L1: 'maybe' }, 'CACHE_L1', /must be true or false, got 'maybe'/)
  configError({ WARM_LEARNED_COVERAGE: '1.5' }, 'WARM_LEARNED_COVERAGE', /must be a number from 0 to 1/)
  configError({ SCHEDULER_TIMEZONE: 'Mars/Olympus' }, 'SCHEDULER_TIMEZONE', /must be a known IANA time zone/)
  configError({ DATABASE_SCHEMA: 'Public' }, 'DATABASE_SCHEMA', /must be a lowercase SQL identifier/)
  configError({ CORS_ORIGINS: 'https://a.example, https://b.example/path' }, 'CORS_ORIGINS', /must be a comma list of origins/)
  configError({ TRUSTED_PROXIES: '10.0.0.0/33' }, 'TRUSTED_PROXIES', /must be a comma list of IP addresses, CIDR ranges/)
  configError({ SCHEDULER: 'bullmq' }, 'SCHEDULER', /bullmq needs REDIS_URL/)
  // Secrets, and URLs that may hold a password, are never repeated.
  configError({ ADMIN_TOKEN: 'short-secret' }, 'ADMIN_TOKEN', /^Invalid configuration: ADMIN_TOKEN must be at least 16 characters$/)
  configError({ DATABASE_URL: 'http://user:hunter2@db' }, 'DATABASE_URL', /^Invalid configuration: DATABASE_URL must be a postgres: or postgresql: URL$/)
  // The first bad variable is described, the others named.
  configError({ PORT: '-1', REDIS_PREFIX: 'a b' }, 'PORT', /got '-1' \(also invalid: REDIS_PREFIX\)$/)
})

test('values are read as before: empty is unset, booleans in several words, lists trimmed, defaults that follow others', () => {
  const config = loadConfig({ PORT: '', HOST: '', CACHE_L1: 'OFF', LOG_REQUESTS: '1', WARMUP_ON_BOOT: 'no', CORS_ORIGINS: ' https://a.example ,, http://b.example:8080 ', CACHE_L1_MAX_MB: '2' })
  assert.equal(config.port, 3000)
  assert.equal(config.host, '127.0.0.1')
  assert.deepEqual([config.cacheL1, config.logRequests, config.warmupOnBoot], [false, true, false])
  assert.deepEqual(config.corsOrigins, ['https://a.example', 'http://b.example:8080'])
  assert.deepEqual(config.trustedProxies, [])
  assert.equal(config.cacheL1MaxBytes, 2 * 1024 * 1024)
  assert.equal(loadConfig({ LOG_FILE: '' }).logFile, '', 'an empty LOG_FILE turns the file off')
  assert.equal(loadConfig({}).scheduler, 'local')
  assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).scheduler, 'bullmq')
  assert.equal(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', SCHEDULER: 'off' }).scheduler, 'off')
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
