// The `schools` CLI importing the banding overlay and then clearing and re-warming the cache, as
// child processes on a PostgreSQL schema and (when the run has Redis) a Redis prefix. The import
// makes the configured banding queries warmable. PostgreSQL only: on PGlite each command is a
// slow start, and cli-warmup.test.ts covers the CLI there.
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { skipUnlessServers } from '../helpers/env.ts'
import { warmListQueries } from '../helpers/integration.ts'
import { BANDING_FIXTURE } from '../helpers/source-data.ts'
import { cliTarget, describeResult, runCli, type CliTarget } from './cli-process.ts'

interface Summary {
  trigger: string
  status: string
  keys: number
  failed: number
}

if (skipUnlessServers('schools CLI: import-banding, clear-and-warmup', ['postgres'])) {
  describe('schools CLI: import-banding, clear-and-warmup', () => {
    // Each test has its own schema (and Redis prefix): neither depends on what the other did.
    const targets: CliTarget[] = []
    const freshTarget = async (): Promise<CliTarget> => {
      const target = await cliTarget()
      targets.push(target)
      return target
    }
    after(async () => {
      for (const target of targets.splice(0)) await target.cleanup()
    })

    test('import-banding --file imports the overlay (the first command on the empty database imports the schools)', async () => {
      const { env } = await freshTarget()
      const imported = await runCli(['import-banding', '--file', BANDING_FIXTURE], env)
      assert.equal(imported.code, 0, describeResult(imported))
      assert.match(imported.stdout, /^Imported \d+ entries for \d+ schools; [1-9]\d* changed\./m)
    })

    test('clear-and-warmup --json after a banding import expires everything and warms all groups, the banding queries included', async () => {
      const { env } = await freshTarget()
      const imported = await runCli(['import-banding', '--file', BANDING_FIXTURE], env)
      assert.equal(imported.code, 0, describeResult(imported))
      const result = await runCli(['clear-and-warmup', '--json'], env)
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
