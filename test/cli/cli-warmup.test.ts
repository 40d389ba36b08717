// The `schools` CLI warming the cache, as child processes on one PostgreSQL schema and (when the
// run has Redis) one Redis prefix, so through BullMQ as in production: the JSON summary, the
// scheduler report, each key with --verbose. Without PostgreSQL it runs on a PGlite directory,
// and only the first two (each PGlite start is slow). Imports: cli-import.test.ts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { urlForKey, warmListQueries } from '../helpers/integration.ts'
import type { WarmupSummary } from '../../src/warmup/summary.ts'
import { cliTarget, describeResult, runCli, type CliResult, type CliTarget } from './cli-process.ts'
import { missingServers } from '../helpers/env.ts'

type Summary = WarmupSummary

const parse = <T>(result: CliResult): T => {
  assert.equal(result.code, 0, describeResult(result))
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    throw new Error(`stdout is not one JSON document:\n${describeResult(result)}`)
  }
}

describe('schools CLI: warmup and status', () => {
  let target: CliTarget | undefined
  const env = (): Record<string, string> => target!.env
  const runIds: string[] = []

  before(async () => {
    target = await cliTarget()
  })
  after(() => target?.cleanup())

  test('warmup --json warms every group but details and prints the summary', async () => {
    // The first command on an empty database also imports the bundled data.
    if (!target!.redis) {
      // No Redis and no server: the cache is the server's memory, so there is nothing to warm.
      const skipped = parse<{ ran: boolean; warmed: number; reason: string }>(await runCli(['warmup', '--json'], env()))
      assert.equal(skipped.ran, false)
      assert.equal(skipped.warmed, 0)
      assert.match(skipped.reason, /nothing to warm until it starts/)
      return
    }
    const summary = parse<Summary>(await runCli(['warmup', '--json'], env()))
    assert.equal(summary.status, 'succeeded')
    assert.equal(summary.trigger, 'cli')
    assert.deepEqual([...summary.groups].sort(), ['filters', 'learned', 'primary', 'secondary', 'stats'])
    assert.equal(summary.keys, 17)
    assert.equal(summary.warmed, 17)
    assert.equal(summary.failed, 0)
    runIds.push(summary.runId)
  })

  test('scheduler status --json lists the jobs with their next runs, the recent runs and the cache', async () => {
    const status = parse<{
      backend: string
      jobs: { name: string; cron: string; timeZone: string; nextRun: string | null }[]
      recentRuns: { runId: string }[]
      cache: { keys: number; hits: number; misses: number }
    }>(await runCli(['scheduler', 'status', '--json'], env()))
    assert.equal(status.backend, target!.redis ? 'bullmq' : 'local')
    assert.deepEqual(status.jobs.map((job) => job.name), ['daily-all-0300', 'daily-all-0800', 'noon-lists', 'stats-filters-2h'])
    for (const job of status.jobs) {
      assert.equal(job.timeZone, 'Asia/Hong_Kong')
      assert.ok(job.nextRun && Date.parse(job.nextRun) > Date.now(), `${job.name}: next run ${job.nextRun}`)
    }
    for (const runId of runIds) assert.ok(status.recentRuns.some((run) => run.runId === runId), `${runId} among the recent runs`)
    assert.equal(typeof status.cache.keys, 'number')
  })

  test('warmup --primary --verbose prints each primary key it warmed', { skip: missingServers(['postgres']) ?? false }, async () => {
    const result = await runCli(['warmup', '--primary', '--verbose'], env())
    assert.equal(result.code, 0, describeResult(result))
    const printed = [...result.stdout.matchAll(/^ok\s+[\d.]+ ms\s+(\S+)$/gm)].map((match) => match[1]!)
    const expected = warmListQueries('primary').map((query) => query.url)
    assert.deepEqual(printed.map(urlForKey).sort(), [...expected].sort(), describeResult(result))
    assert.match(result.stdout, /^primary\s+9\s+9\s+0\b/m, 'the per-group table')
    assert.match(result.stdout, /^run wu-\S+ \(cli\) succeeded/m)
  })
})
