import { requestWarmup } from '../admin/warmup-requests.ts'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { openRuntime } from '../runtime.ts'
import { BullmqScheduler } from '../warmup/bullmq-scheduler.ts'
import type { WarmupKeyProgress } from '../warmup/summary.ts'
import { ProgressBar, table, type Output } from './output.ts'

export interface WarmupFlags {
  primary?: boolean
  secondary?: boolean
  stats?: boolean
  filters?: boolean
  details?: boolean
  learned?: boolean
  all?: boolean
  verbose?: boolean
  json?: boolean
}

/** `schools warmup` / `schools clear-and-warmup`. Exit code 1 when any key failed. */
export async function warmupCommand(clearFirst: boolean, config: Config, logger: Logger, flags: WarmupFlags, out: Output): Promise<number> {
  const groups = clearFirst ? ['all'] : (['primary', 'secondary', 'stats', 'filters', 'details', 'learned'] as const).filter((group) => flags[group])
  if (flags.all) groups.push('all')
  if (groups.length === 0) groups.push('all')
  // With BullMQ the run is queued like any manual warmup; this process also runs a worker so
  // the run goes ahead even when no server is up.
  const runtime = await openRuntime({ config, logger, role: 'cli', schedule: config.scheduler === 'bullmq', defaultMetrics: false })
  try {
    if (runtime.scheduler instanceof BullmqScheduler) await runtime.scheduler.start()
    const perGroup = new Map<string, { keys: number; warmed: number; failed: number; ms: number }>()
    let bar: ProgressBar | undefined
    const accepted = await requestWarmup(runtime, {
      groups,
      trigger: clearFirst ? 'cli:clear' : 'cli',
      clearFirst,
      listener: {
        onPlan: (plan) => {
          bar = new ProgressBar(plan.keys, out.isTty && !flags.json && !flags.verbose)
        },
        onKey: (progress: WarmupKeyProgress) => {
          const row = perGroup.get(progress.group) ?? { keys: 0, warmed: 0, failed: 0, ms: 0 }
          row.keys += 1
          row[progress.ok ? 'warmed' : 'failed'] += 1
          row.ms += progress.durationMs
          perGroup.set(progress.group, row)
          if (flags.verbose && !flags.json) {
            out.line(`${progress.ok ? 'ok  ' : 'FAIL'} ${progress.durationMs.toFixed(1).padStart(8)} ms  ${progress.key}${progress.error ? `  ${progress.error}` : ''}`)
          }
          bar?.tick()
        },
      },
    })
    if (accepted.alreadyRunning && !flags.json) out.line(`A warmup was already running (run ${accepted.runId}); waiting for it.`)
    const summary = await accepted.done
    if (flags.json) {
      out.line(JSON.stringify(summary, null, 2))
    } else {
      const rows: (string | number)[][] = [['group', 'keys', 'warmed', 'failed', 'ms (sum)']]
      for (const [group, row] of perGroup) rows.push([group, row.keys, row.warmed, row.failed, Math.round(row.ms)])
      rows.push(['total', summary.keys, summary.warmed, summary.failed, summary.durationMs ?? 0])
      out.line(table(rows))
      out.line(`run ${summary.runId} (${summary.trigger}) ${summary.status} on ${summary.instance}`)
      for (const error of summary.errors) out.line(`failed: ${error.key}: ${error.message}`)
    }
    return summary.failed > 0 || summary.status === 'failed' || summary.status === 'interrupted' ? 1 : 0
  } finally {
    await runtime.close()
  }
}
