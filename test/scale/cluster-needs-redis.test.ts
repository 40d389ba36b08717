// `schools serve --workers 3` without REDIS_URL would give each worker a memory cache of its
// own, so an invalidation would reach one worker in three: it must refuse to start, say why,
// and exit non-zero, before opening anything. Needs neither PostgreSQL nor Redis: always runs.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { NodeProcess } from '../helpers/process-server.ts'

describe('schools serve --workers 3 without Redis', () => {
  test('refuses to start, naming WORKERS and REDIS_URL, with a non-zero exit (flag or WORKERS=3)', async () => {
    const variants: { args: string[]; env: Record<string, string> }[] = [
      { args: ['serve', '--workers', '3'], env: {} },
      { args: ['serve'], env: { WORKERS: '3' } },
    ]
    await Promise.all(variants.map(async ({ args, env }) => {
      const cli = NodeProcess.spawn({ label: `schools ${args.join(' ')}`, entry: 'src/cli/main.ts', args, env: { LOG_FILE: '', LOG_LEVEL: 'info', ...env } })
      const exit = await cli.waitForExit(30_000)
      const output = cli.lines.join('\n')
      assert.notEqual(exit.code, 0, `exits non-zero\n${output}`)
      assert.equal(exit.signal, null)
      assert.match(output, /WORKERS is 3 but REDIS_URL is not set/, output)
      assert.ok(!cli.logs().some((line) => String(line.msg ?? '').includes('listening')), 'nothing listened')
      console.log(`[scale] cluster without Redis (schools ${args.join(' ')}${env.WORKERS ? ' with WORKERS=3' : ''}): exit ${exit.code}: ${cli.lines.find((line) => line.includes('REDIS_URL'))}`)
    }))
  })
})
