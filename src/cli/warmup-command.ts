import { requestWarmup } from '../admin/warmup-requests.ts'
import type { Config } from '../config.ts'
import { ServerRequestError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { settingsOf, type ServerSettings } from '../operations/runtime-file.ts'
import { openRuntime } from '../runtime.ts'
import { LEARNED_GROUP } from '../schools/learned-targets.ts'
import { SCHOOL_WARM_GROUPS } from '../schools/warm-targets.ts'
import { groupTotals, type WarmupKeyResult } from '../warmup/run-keys.ts'
import type { WarmupKeyProgress, WarmupRunRecord, WarmupSummary } from '../warmup/summary.ts'
import { ProgressBar, table, type Output } from './output.ts'
import { describeTarget, findTarget } from './server-target.ts'
import type { AdminClient } from './admin-client.ts'

/** One flag per warm group (--primary, --details...), plus --all, --verbose and --json. */
export interface WarmupFlags {
  [group: string]: boolean | string | undefined
  all?: boolean
  verbose?: boolean
  json?: boolean
  url?: string
}

/** The group flags, from the groups the warm targets declare. */
export const WARM_GROUP_FLAGS = [...SCHOOL_WARM_GROUPS.map((group) => group.name), LEARNED_GROUP]

type RunResult = WarmupSummary | WarmupRunRecord

/** How long the CLI follows a run on the server before giving up (the run itself goes on). */
const FOLLOW_TIMEOUT_MS = 60 * 60_000

/** `schools warmup` / `schools clear-and-warmup`. Exit code 1 when any key failed. */
export async function warmupCommand(clearFirst: boolean, config: Config, logger: Logger, flags: WarmupFlags, out: Output): Promise<number> {
  const groups = clearFirst ? ['all'] : WARM_GROUP_FLAGS.filter((group) => flags[group] === true)
  if (flags.all) groups.push('all')
  if (groups.length === 0) groups.push('all')
  const target = await findTarget(config, flags, out)
  if (!flags.json) out.error(describeTarget(target))
  if (target.mode === 'server') return remoteWarmup(target.client, groups, clearFirst, config, flags, out)
  if (!config.redisUrl) {
    // Without Redis the cache is the memory of the process that serves; this one would warm
    // a cache that dies with it.
    const message = 'No server is running, and without REDIS_URL the cache lives in the server process: there is nothing to warm until it starts ' +
      `(it warms on start${config.warmupOnBoot ? '' : ' when WARMUP_ON_BOOT=true'}, then on its schedule). Nothing was warmed.`
    logger.info({ groups, trigger: clearFirst ? 'cli:clear' : 'cli' }, `warmup not run: ${message}`)
    out.line(flags.json ? JSON.stringify({ warmed: 0, keys: 0, ran: false, reason: message }, null, 2) : message)
    return 0
  }
  return directWarmup(groups, clearFirst, config, logger, flags, out)
}

async function directWarmup(groups: string[], clearFirst: boolean, config: Config, logger: Logger, flags: WarmupFlags, out: Output): Promise<number> {
  // With BullMQ the run is queued like any manual warmup; this process also runs a worker so
  // the run goes ahead even when no server is up. Another instance may take it: then its
  // settings apply and its keys are read from the run's record.
  const runtime = await openRuntime({ config, logger, role: 'cli', schedule: false, defaultMetrics: false })
  try {
    await runtime.scheduler?.join()
    let bar: ProgressBar | undefined
    let liveKeys = 0
    const accepted = await requestWarmup(runtime, {
      groups,
      trigger: clearFirst ? 'cli:clear' : 'cli',
      clearFirst,
      listener: {
        onPlan: (plan) => {
          bar = new ProgressBar(plan.keys, out.isTty && !flags.json && !flags.verbose)
        },
        onKey: (progress: WarmupKeyProgress) => {
          liveKeys += 1
          if (flags.verbose && !flags.json) out.line(keyLine(progress))
          bar?.tick()
        },
      },
    })
    if (accepted.alreadyRunning && !flags.json) out.line(`A warmup was already running (run ${accepted.runId}); waiting for it.`)
    const summary = await accepted.done
    const keys = await runtime.runKeys.get(summary.runId).catch(() => undefined)
    if (!flags.json) {
      out.line(summary.instance === runtime.instanceId
        ? `run ${summary.runId} was executed by this CLI: its settings applied (WARMUP_CONCURRENCY=${config.warmupConcurrency}, WARM_LIST_MAX_FILTERS=${config.warmListMaxFilters}, WARM_LIST_PAGES=${config.warmListPages}).`
        : `run ${summary.runId} was executed by ${summary.instance}: that process's settings applied (this CLI's WARMUP_CONCURRENCY=${config.warmupConcurrency} did not).`)
    }
    return report(summary, keys, { alreadyPrinted: liveKeys > 0 }, flags, out)
  } finally {
    await runtime.close()
  }
}

async function remoteWarmup(client: AdminClient, groups: string[], clearFirst: boolean, config: Config, flags: WarmupFlags, out: Output): Promise<number> {
  const accepted = await client.request<{ runId: string; alreadyRunning: boolean; server: { instance: string; pid: number; settings: ServerSettings } }>('POST', '/api/admin/warmup', { groups, clearFirst })
  if (!flags.json) {
    out.line(settingsNote(accepted.server, config))
    if (accepted.alreadyRunning) out.line(`A warmup was already running (run ${accepted.runId}); waiting for it.`)
  }
  // The record appears when a worker starts the run; it is final when its status is not 'running'.
  let record: WarmupRunRecord | undefined
  const deadline = Date.now() + FOLLOW_TIMEOUT_MS
  for (;;) {
    record = await client.find<WarmupRunRecord>(`/api/scheduler/runs/${encodeURIComponent(accepted.runId)}`)
    if (record && record.status !== 'running') break
    if (Date.now() > deadline) throw new ServerRequestError(`run ${accepted.runId} did not finish within ${FOLLOW_TIMEOUT_MS / 60_000} minutes; see \`schools runs\``, client.url, 504)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  const keys = (await client.find<{ keys: WarmupKeyResult[] }>(`/api/scheduler/runs/${encodeURIComponent(accepted.runId)}/keys`))?.keys
  if (!flags.json && record.instance !== accepted.server.instance) out.line(`run ${record.runId} was executed by ${record.instance}: that process's settings applied.`)
  return report(record, keys, { alreadyPrinted: false }, flags, out)
}

/** Says whose settings a warmup runs with, naming the CLI's own values that do not apply. */
function settingsNote(server: { instance: string; pid: number; settings: ServerSettings }, config: Config): string {
  const names: Record<keyof ServerSettings, string> = { warmupConcurrency: 'WARMUP_CONCURRENCY', warmListMaxFilters: 'WARM_LIST_MAX_FILTERS', warmListPages: 'WARM_LIST_PAGES', scheduler: 'SCHEDULER' }
  const mine = settingsOf(config)
  const applied = (Object.keys(names) as (keyof ServerSettings)[]).map((key) => `${names[key]}=${server.settings[key]}`).join(', ')
  const ignored = (Object.keys(names) as (keyof ServerSettings)[]).filter((key) => mine[key] !== server.settings[key]).map((key) => `${names[key]}=${mine[key]}`)
  return `The server's settings apply (${server.instance}, pid ${server.pid}): ${applied}.` + (ignored.length > 0 ? ` This CLI's ${ignored.join(', ')} are not used.` : '')
}

function keyLine(key: { ok: boolean; durationMs: number; key: string; error?: string }): string {
  return `${key.ok ? 'ok  ' : 'FAIL'} ${key.durationMs.toFixed(1).padStart(8)} ms  ${key.key}${key.error ? `  ${key.error}` : ''}`
}

function report(summary: RunResult, keys: WarmupKeyResult[] | undefined, options: { alreadyPrinted: boolean }, flags: WarmupFlags, out: Output): number {
  if (flags.json) {
    out.line(JSON.stringify(flags.verbose ? { ...summary, keyResults: keys ?? null } : summary, null, 2))
  } else {
    if (flags.verbose && !options.alreadyPrinted) {
      if (keys) for (const key of keys) out.line(keyLine(key))
      else out.line(`(the keys of run ${summary.runId} are not recorded)`)
    }
    const rows: (string | number)[][] = [['group', 'keys', 'warmed', 'failed', 'ms (sum)']]
    for (const row of groupTotals(keys ?? [])) rows.push([row.group, row.keys, row.warmed, row.failed, Math.round(row.ms)])
    rows.push(['total', summary.keys, summary.warmed, summary.failed, summary.durationMs ?? 0])
    out.line(table(rows))
    out.line(`run ${summary.runId} (${summary.trigger}) ${summary.status} on ${summary.instance}`)
    for (const error of summary.errors) out.line(`failed: ${error.key}: ${error.message}`)
  }
  return summary.failed > 0 || summary.status === 'failed' || summary.status === 'interrupted' ? 1 : 0
}
