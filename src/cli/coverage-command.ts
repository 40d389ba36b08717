// `schools coverage [--json]`: the coverage report of GET /api/scheduler/coverage, read from the
// shared statistics tables. `--delete-statistics` deletes every stored statistic and the learned
// set (README: what is stored and how to delete it).
import { parseArgs } from 'node:util'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { openRuntime } from '../runtime.ts'
import { coverageReport, type CoverageReport } from '../schools/coverage.ts'
import { table, type Output } from './output.ts'

const percent = (value: number | null): string => (value === null ? '-' : `${(value * 100).toFixed(1)}%`)

export async function coverageCommand(config: Config, logger: Logger, args: string[], out: Output): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' }, 'delete-statistics': { type: 'boolean' } }, strict: true })
  const runtime = await openRuntime({ config, logger, role: 'cli', defaultMetrics: false })
  try {
    if (values['delete-statistics']) {
      await runtime.learning.store.deleteAll()
      out.line('request statistics and the learned warm set deleted')
      return 0
    }
    const report = await coverageReport(runtime.learning)
    if (values.json) out.line(JSON.stringify(report, null, 2))
    else printReport(report, out)
    return 0
  } finally {
    await runtime.close()
  }
}

export function printReport(report: CoverageReport, out: Output): void {
  const { learning } = report
  out.line(`learning ${learning.enabled ? 'on' : 'off'}: target ${percent(learning.coverageTarget)} of ${learning.windowDays} days, at most ${learning.maxKeys} keys; ${learning.learnedKeys} learned keys warm, ${learning.droppedKeys} dropped`)
  out.line('')
  const rows: (string | number)[][] = [['window', 'class', 'requests', 'from cache', 'in warm set']]
  for (const window of report.windows) {
    rows.push([window.window, 'all', window.requests, percent(window.cachedShare), percent(window.warmShare)])
    for (const row of window.byClass) rows.push(['', row.requestClass, row.requests, percent(row.cachedShare), percent(row.warmShare)])
  }
  out.line(table(rows))
  out.line('')
  out.line('top missed keys (24 h):')
  out.line(report.topMissed.length === 0 ? '  none' : table([['key', 'class', 'requests', 'misses'], ...report.topMissed.map((row) => [row.key, row.requestClass, row.requests, row.misses])]))
  out.line('')
  out.line(`next warmup: ${report.nextWarmup.keys} learned keys, warm set would cover ${percent(report.nextWarmup.coveredShare)}`)
  for (const row of report.nextWarmup.add) out.line(`  + ${row.key} (${row.requests} requests)`)
  for (const row of report.nextWarmup.drop) out.line(`  - ${row.key}: ${row.reason}`)
}
