import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { openRuntime } from '../runtime.ts'
import type { WarmupRunRecord } from '../warmup/summary.ts'
import type { Output } from './output.ts'
import { runsTable } from './scheduler-command.ts'
import { describeTarget, findTarget } from './server-target.ts'

export interface RunsPage {
  items: WarmupRunRecord[]
  page: number
  pageSize: number
  total: number | null
  totalPages: number | null
}

const MAX_PAGE_SIZE = 100

/** `schools runs [--page N] [--page-size N] [--json]`: the warmup run history, newest first. */
export async function runsCommand(config: Config, logger: Logger, flags: { json?: boolean; url?: string; page?: string; 'page-size'?: string }, out: Output): Promise<number> {
  const page = Number(flags.page ?? 1)
  const pageSize = Number(flags['page-size'] ?? 20)
  if (!Number.isInteger(page) || page < 1 || page > 1000 || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    out.error(`schools runs: --page must be 1 to 1000 and --page-size 1 to ${MAX_PAGE_SIZE}`)
    return 2
  }
  const target = await findTarget(config, flags, out)
  if (!flags.json) out.error(describeTarget(target))
  let result: RunsPage
  if (target.mode === 'server') {
    const listed = await target.client.find<RunsPage>(`/api/scheduler/runs?page=${page}&pageSize=${pageSize}`)
    if (listed) {
      result = listed
    } else {
      // A server without the paginated listing: its status carries the most recent runs.
      if (!flags.json) out.error('note: this server has no GET /api/scheduler/runs; showing the recent runs of its status')
      const status = await target.client.request<{ recentRuns: WarmupRunRecord[] | unknown }>('GET', '/api/scheduler/status')
      const items = Array.isArray(status.recentRuns) ? status.recentRuns as WarmupRunRecord[] : []
      result = { items: items.slice((page - 1) * pageSize, page * pageSize), page, pageSize, total: null, totalPages: null }
    }
  } else {
    const runtime = await openRuntime({ config, logger, role: 'cli', schedule: false, defaultMetrics: false })
    try {
      // The history has no offset query of its own; pages are bounded (1000 x 100 rows at most).
      const recent = await runtime.history.recent(page * pageSize)
      result = { items: recent.slice((page - 1) * pageSize), page, pageSize, total: null, totalPages: null }
    } finally {
      await runtime.close()
    }
  }
  if (flags.json) {
    out.line(JSON.stringify(result, null, 2))
    return 0
  }
  out.line(runsTable(result.items))
  out.line(`page ${result.page}${result.totalPages !== null ? ` of ${result.totalPages} (${result.total} runs)` : ''}`)
  return 0
}
