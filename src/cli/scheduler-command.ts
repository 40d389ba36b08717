import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { openRuntime } from '../runtime.ts'
import { nextRunOf } from '../warmup/scheduler.ts'
import type { WarmupRunRecord } from '../warmup/summary.ts'
import { table, type Output } from './output.ts'
import { describeTarget, findTarget } from './server-target.ts'

interface JobLine {
  name: string
  cron: string
  groups: string[]
  nextRun: string | null
  lastRun: { finishedAt: string | null; status: string } | null
}

/** `schools scheduler status`: the configured jobs, their next and last runs, recent runs, cache figures. */
export async function schedulerStatusCommand(config: Config, logger: Logger, flags: { json?: boolean; url?: string }, out: Output): Promise<number> {
  const target = await findTarget(config, flags, out)
  if (!flags.json) out.error(describeTarget(target))
  if (target.mode === 'server') {
    // The server's own view: its scheduler, its current run, its cache.
    const status = await target.client.request<{ scheduler: { backend?: string; timeZone?: string; jobs?: JobLine[] }; currentRun: { runId: string; progress: { completed: number; keys: number } } | null; recentRuns: WarmupRunRecord[] | unknown; cache: unknown }>('GET', '/api/scheduler/status')
    if (flags.json) {
      out.line(JSON.stringify(status, null, 2))
      return 0
    }
    const running = status.currentRun ? `; running now: ${status.currentRun.runId} (${status.currentRun.progress.completed}/${status.currentRun.progress.keys} keys)` : ''
    printStatus(out, `${status.scheduler.backend ?? 'unavailable'}, time zone ${status.scheduler.timeZone ?? '?'}${running}`, status.scheduler.jobs ?? [], Array.isArray(status.recentRuns) ? status.recentRuns as WarmupRunRecord[] : [], status.cache)
    return 0
  }
  const runtime = await openRuntime({ config, logger, role: 'cli', schedule: config.scheduler === 'bullmq', defaultMetrics: false })
  try {
    // BullMQ keeps the schedules in Redis, shared by every instance. A local scheduler's timers
    // live only in the server process, so here the next runs are computed from the cron.
    const status = runtime.scheduler?.sharedStatus ? await runtime.scheduler.status() : undefined
    const jobs = status?.jobs ?? await Promise.all(config.schedule.map(async (job) => ({
      ...job,
      timeZone: config.timeZone,
      nextRun: nextRunOf(job.cron, config.timeZone)?.toISOString() ?? null,
      lastRun: await runtime.history.lastForJob(job.name).then((record) => (record ? { finishedAt: record.finishedAt, instance: record.instance, runId: record.runId, status: record.status } : null)),
    })))
    const recent = await runtime.history.recent(5)
    // A one-off command: count the Redis keys now (the server counts them in the background).
    await runtime.cache.sampleKeyCount()
    const cache = await runtime.cache.stats()
    if (flags.json) {
      out.line(JSON.stringify({ backend: config.scheduler, jobs, recentRuns: recent, cache }, null, 2))
      return 0
    }
    printStatus(out, `${config.scheduler}, time zone ${config.timeZone}`, jobs, recent, config.redisUrl ? cache : 'in the server process (no server running)')
    return 0
  } finally {
    await runtime.close()
  }
}

function printStatus(out: Output, backend: string, jobs: JobLine[], recent: WarmupRunRecord[], cache: unknown): void {
  out.line(`scheduler backend: ${backend}`)
  out.line(table([['job', 'cron', 'groups', 'next run', 'last run'], ...jobs.map((job) => [job.name, job.cron, job.groups.join('+'), job.nextRun ?? '-', job.lastRun ? `${job.lastRun.finishedAt ?? '?'} ${job.lastRun.status}` : '-'])]))
  out.line('')
  out.line(runsTable(recent))
  out.line('')
  out.line(`cache: ${typeof cache === 'string' ? cache : JSON.stringify(cache)}`)
}

export function runsTable(runs: readonly WarmupRunRecord[]): string {
  return table([['run', 'trigger', 'status', 'keys', 'failed', 'ms', 'instance', 'started'], ...runs.map((run) => [run.runId, run.trigger, run.status, run.keys, run.failed, run.durationMs ?? '-', run.instance, run.startedAt])])
}
