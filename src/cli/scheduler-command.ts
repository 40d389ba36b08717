import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { openRuntime } from '../runtime.ts'
import { nextRunOf } from '../warmup/scheduler.ts'
import { table, type Output } from './output.ts'

/** `schools scheduler status`: the configured jobs, their next and last runs, recent runs, cache figures. */
export async function schedulerStatusCommand(config: Config, logger: Logger, flags: { json?: boolean }, out: Output): Promise<number> {
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
    out.line(`scheduler backend: ${config.scheduler}, time zone ${config.timeZone}`)
    out.line(table([['job', 'cron', 'groups', 'next run', 'last run'], ...jobs.map((job) => [job.name, job.cron, job.groups.join('+'), job.nextRun ?? '-', job.lastRun ? `${job.lastRun.finishedAt ?? '?'} ${job.lastRun.status}` : '-'])]))
    out.line('')
    out.line(table([['run', 'trigger', 'status', 'keys', 'failed', 'ms', 'started'], ...recent.map((run) => [run.runId, run.trigger, run.status, run.keys, run.failed, run.durationMs ?? '-', run.startedAt])]))
    out.line('')
    out.line(`cache: ${JSON.stringify(cache)}`)
    return 0
  } finally {
    await runtime.close()
  }
}
