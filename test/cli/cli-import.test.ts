// The `schools` CLI importing the banding overlay and then clearing and re-warming the cache, as
// child processes on a PostgreSQL schema and (when the run has Redis) a Redis prefix. The import
// makes the configured banding queries warmable. PostgreSQL only: on PGlite each command is a
// slow start, and cli-warmup.test.ts covers the CLI there.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { testDatabaseUrl } from '../helpers/env.ts'
import { warmListQueries } from '../helpers/integration.ts'
import { BANDING_FIXTURE } from '../helpers/source-data.ts'
import { cliTarget, describeResult, runCli, type CliTarget } from './cli-process.ts'

interface Summary {
  trigger: string
  status: string
  keys: number
  failed: number
}

if (testDatabaseUrl) {
  describe('schools CLI: import-banding, clear-and-warmup', () => {
    let target: CliTarget | undefined
    const env = (): Record<string, string> => target!.env

    before(async () => {
      target = await cliTarget()
    })
    after(() => target?.cleanup())

    test('import-banding --file imports the overlay (the first command on the empty database imports the schools)', async () => {
      const imported = await runCli(['import-banding', '--file', BANDING_FIXTURE], env())
      assert.equal(imported.code, 0, describeResult(imported))
      assert.match(imported.stdout, /^Imported \d+ entries for \d+ schools; [1-9]\d* changed\./m)
    })

    test('clear-and-warmup --json expires everything and warms all groups, the banding queries now included', async () => {
      const result = await runCli(['clear-and-warmup', '--json'], env())
      assert.equal(result.code, 0, describeResult(result))
      const summary = JSON.parse(result.stdout) as Summary
      assert.equal(summary.status, 'succeeded')
      assert.equal(summary.trigger, 'cli:clear')
      const configured = warmListQueries('primary').length + warmListQueries('secondary').length
      assert.equal(summary.keys, configured + 3, 'every configured list query, banding included, plus two filter options and stats')
      assert.equal(summary.failed, 0)
    })
  })
}
