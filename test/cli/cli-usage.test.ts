// The `schools` CLI's answers to operator mistakes, as a child process: help, usage errors
// (exit 2), a database that is not there (non-zero, one clear line), and a malformed import file
// (exit 2, naming the file, line and field, with the database left as it was).
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { PostgresDatabase } from '../../src/db/postgres.ts'
import { sparePort } from '../helpers/redis.ts'
import { edbLines, sourceCopy } from '../helpers/source-data.ts'
import { cliTarget, describeResult, runCli, type CliTarget } from './cli-process.ts'

describe('schools CLI: usage', () => {
  test('help prints the commands and exits 0; no command prints them and exits 2', async () => {
    const [help, none] = await Promise.all([runCli(['help'], {}), runCli([], {})])
    assert.equal(help.code, 0, describeResult(help))
    assert.match(help.stdout, /^Usage: schools <command>/)
    for (const command of ['serve', 'import', 'import-banding', 'warmup', 'clear-and-warmup', 'scheduler status']) assert.ok(help.stdout.includes(command), command)
    assert.equal(none.code, 2, describeResult(none))
    assert.match(none.stdout, /Usage: schools/)
  })

  test('an unknown command, an unknown flag and a missing --file exit 2 naming the problem', async () => {
    const [unknown, flag, noFile] = await Promise.all([runCli(['frobnicate'], {}), runCli(['warmup', '--everything'], {}), runCli(['import-banding'], {})])
    assert.equal(unknown.code, 2, describeResult(unknown))
    assert.match(unknown.stderr, /Unknown command 'frobnicate'/)
    assert.equal(flag.code, 2, describeResult(flag))
    assert.match(flag.stderr, /--everything/)
    assert.doesNotMatch(flag.stderr, /\n\s+at /, 'one line, no stack')
    assert.equal(noFile.code, 2, describeResult(noFile))
    assert.match(noFile.stderr, /--file is required/)
  })

  test('scheduler status against a database that is not there fails with one line, within its timeout', async () => {
    const closedPort = await sparePort()
    const started = Date.now()
    const result = await runCli(['scheduler', 'status', '--json'], { DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/nothing`, DATABASE_TIMEOUT_MS: '500', SCHEDULER: 'local' }, 60_000)
    assert.notEqual(result.code, 0, describeResult(result))
    assert.match(result.stderr, /^schools: .*database/im, describeResult(result))
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace')
    assert.equal(result.stdout, '', 'no summary on stdout')
    assert.ok(Date.now() - started < 60_000)
  })
})

describe('schools CLI: a malformed import file', () => {
  let target: CliTarget | undefined
  before(async () => {
    target = await cliTarget({ redis: false })
  })
  after(() => target?.cleanup())

  test('import --file with a bad school number exits 2 naming the file, line and field; nothing is imported', async () => {
    // The 11th data row gets a school number that is not 12 digits.
    const lines = edbLines()
    const victim = lines[11]!
    const schoolNo = victim.split(',')[0]!.replace(/"/g, '')
    assert.match(schoolNo, /^\d{12}$/)
    const files = await sourceCopy({ file: 'schools', transform: (text) => text.replace(victim, victim.replace(schoolNo, '12345')) })
    try {
      const result = await runCli(['import', '--file', files.schools], { ...target!.env, AUTO_IMPORT: 'false' })
      assert.equal(result.code, 2, describeResult(result))
      assert.ok(result.stderr.includes(files.schools) || result.stderr.includes(path.basename(files.schools)), describeResult(result))
      assert.match(result.stderr, /line 12\b/, describeResult(result))
      assert.match(result.stderr, /field 'SCHOOL NO\.'/)
      assert.match(result.stderr, /'12345' is not a 12-digit school number/)
    } finally {
      await rm(path.dirname(files.schools), { recursive: true, force: true })
    }
    if (target!.kind === 'postgres') {
      const db = new PostgresDatabase({ url: target!.env.DATABASE_URL!, schema: target!.env.DATABASE_SCHEMA!, timeoutMs: 5000, maxConnections: 1 })
      try {
        const [row] = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM schools')
        assert.equal(row?.count, 0, 'the refused import left the database as it was')
      } finally {
        await db.close()
      }
    }
  })
})
