// Renders each section from the admin API's answers. Pure functions of their input: the
// polling loop in app.js calls them again on every refresh and on a language switch.
import { $, facts, h, replaceChildren } from './dom.js'
import { describeCron, formatBytes, formatDateTime, formatDuration, formatNumber, formatPercent } from './format.js'
import { hasLabel, t } from './i18n.js'

const unavailable = (part) => part && typeof part === 'object' && 'unavailable' in part

function statusBadge(status) {
  return h('span', { className: `badge status-${status}` }, t(`status.${status}`))
}

function time(iso, timeZone) {
  return iso ? h('time', { datetime: iso }, formatDateTime(iso, timeZone)) : t('never')
}

export function renderScheduler(status, dashboard) {
  const scheduler = status.scheduler
  const timeZone = scheduler?.timeZone ?? 'Asia/Hong_Kong'
  const body = $('#jobs tbody')
  if (unavailable(scheduler)) {
    replaceChildren($('#scheduler-facts'), facts([[t('scheduler.backend'), t('scheduler.unavailable', { message: scheduler.unavailable })]]))
    replaceChildren(body)
    return
  }
  replaceChildren($('#scheduler-facts'), facts([
    [t('scheduler.backend'), h('strong', { id: 'backend' }, scheduler.backend)],
    [t('scheduler.timeZone'), timeZone],
    [t('scheduler.instance'), dashboard?.instance ?? scheduler.instanceId],
  ]))
  const rows = scheduler.jobs.map((job) => {
    const words = describeCron(job.cron)
    return h('tr', { dataset: { job: job.name } },
      h('th', { scope: 'row' }, job.name),
      h('td', {}, h('code', {}, job.cron), words ? h('span', { className: 'muted' }, ` (${words})`) : null),
      h('td', {}, job.groups.join(', ')),
      h('td', { className: 'next-run' }, time(job.nextRun, job.timeZone ?? timeZone)),
      h('td', {}, time(job.lastRun?.finishedAt, job.timeZone ?? timeZone)),
      h('td', {}, job.lastRun ? [statusBadge(job.lastRun.status), job.lastRun.keys !== undefined ? ` ${formatNumber(job.lastRun.keys)}` : ''] : t('never')),
      h('td', {}, job.lastRun?.instance ?? t('never')),
    )
  })
  replaceChildren(body, rows.length > 0 ? rows : h('tr', {}, h('td', { colSpan: 7 }, t('jobs.none'))))
}

function progressBar(label, done, total, group) {
  const value = Math.min(done, total)
  return h('div', { className: 'progress-row', dataset: group === undefined ? {} : { group, done: String(done), total: String(total) } },
    h('span', { className: 'progress-label' }, label),
    h('progress', { max: Math.max(total, 1), value, 'aria-label': label }),
    h('span', { className: 'progress-count' }, t('current.keys', { done: formatNumber(done), total: formatNumber(total) })),
  )
}

/**
 * The runs going on, wherever they run: the answering process's own with live figures, the
 * others' as their process last published them (a bar without figures until it has).
 */
export function renderCurrent(dashboard, timeZone) {
  const runs = dashboard?.currentRuns ?? []
  if (runs.length === 0) {
    replaceChildren($('#current-body'), h('p', { className: 'muted' }, t('current.none')))
    return
  }
  replaceChildren($('#current-body'), runs.map((run) => h('div', { className: 'current-run', dataset: { runId: run.runId } },
    h('p', {}, h('strong', {}, run.runId), ` · ${run.trigger} · ${run.groups.join(', ')} · `, time(run.startedAt, timeZone)),
    // Until the run has listed its keys there is no total: an indeterminate bar.
    run.progress
      ? h('div', { className: 'progress-grid' },
        progressBar(run.groups.join(', '), run.progress.completed, run.progress.keys),
        run.perGroup.map((group) => progressBar(group.group, group.completed, group.keys, group.group)))
      : h('progress', { 'aria-label': run.runId }),
    h('p', { className: 'muted' }, run.here
      ? t('current.here', { instance: run.instance })
      : t(run.progress ? 'current.elsewhere' : 'current.elsewhereNoProgress', { instance: run.instance, time: run.updatedAt ? formatDateTime(run.updatedAt, timeZone) : '' })),
  )))
}

export function renderRuns(page, timeZone, onDetails) {
  const rows = page.items.map((run) => h('tr', { dataset: { runId: run.runId, status: run.status } },
    h('td', {}, time(run.startedAt, timeZone)),
    h('td', {}, run.trigger),
    h('td', {}, run.groups.join(', ')),
    h('td', {}, statusBadge(run.status)),
    h('td', { className: 'num run-keys' }, formatNumber(run.keys)),
    h('td', { className: 'num' }, formatNumber(run.warmed)),
    h('td', { className: 'num' }, formatNumber(run.failed)),
    h('td', { className: 'num' }, formatDuration(run.durationMs)),
    h('td', {}, run.instance),
    h('td', {}, h('button', { type: 'button', className: 'link', onClick: () => onDetails(run), 'aria-label': `${t('runs.details')} ${run.runId}` }, t('runs.details'))),
  ))
  replaceChildren($('#runs-table tbody'), rows.length > 0 ? rows : h('tr', {}, h('td', { colSpan: 10 }, t('runs.none'))))
  $('#runs-page').textContent = t('runs.page', { page: page.page, pages: Math.max(page.totalPages, 1), total: formatNumber(page.total) })
  $('#runs-prev').disabled = page.page <= 1
  $('#runs-next').disabled = page.page >= page.totalPages
}

export function renderRunDetails(run) {
  $('#details-title').textContent = t('details.title', { runId: run.runId })
  replaceChildren($('#details-errors'), run.errors.length === 0 ? h('p', { className: 'muted' }, t('details.noErrors'))
    : h('ul', { className: 'keys' }, run.errors.map((error) => h('li', {}, h('code', {}, error.key), ` ${error.message} (${formatDuration(error.durationMs)})`))))
  replaceChildren($('#details-slowest'), run.slowest.length === 0 ? h('p', { className: 'muted' }, t('details.noSlowest'))
    : h('ol', { className: 'keys' }, run.slowest.map((timing) => h('li', {}, h('code', {}, timing.key), ` ${formatDuration(timing.durationMs)}`))))
}

function reachability(value) {
  if (value === undefined) return [t('cache.notConfigured'), 'muted']
  return value ? [t('cache.reachable'), 'ok'] : [t('cache.unreachable'), 'bad']
}

const FIGURE_FORMATS = { memoryBytes: formatBytes, bytes: formatBytes, hitRate: formatPercent }

/** Every figure the cache reports (nested tiers included), so fields added later show up too. */
function figurePairs(object, prefix = '') {
  return Object.entries(object).flatMap(([name, value]) => {
    if (value && typeof value === 'object' && !Array.isArray(value)) return figurePairs(value, `${prefix}${name}.`)
    const format = FIGURE_FORMATS[name] ?? (/bytes$/i.test(name) ? formatBytes : typeof value === 'number' ? formatNumber : typeof value === 'boolean' ? (flag) => t(flag ? 'yes' : 'no') : String)
    const label = !prefix && hasLabel(`fig.${name}`) ? t(`fig.${name}`) : `${prefix}${name}`
    return [[label, format(value)]]
  })
}

export function renderCacheFigures(cache, dashboard) {
  const [redisText, redisClass] = unavailable(cache) ? [t('cache.unreachable'), 'bad'] : reachability(cache.redisReachable)
  const [databaseText, databaseClass] = dashboard ? reachability(dashboard.database.reachable) : [t('never'), 'muted']
  replaceChildren($('#cache-health'), facts([
    [t('cache.redis'), h('span', { id: 'redis-state' }, redisText), redisClass],
    [t('cache.database'), h('span', { id: 'database-state' }, databaseText), databaseClass],
  ]))
  if (unavailable(cache)) {
    replaceChildren($('#cache-figures'), facts([[t('cache.title'), t('cache.unavailable', { message: cache.unavailable })]]))
    return
  }
  replaceChildren($('#cache-figures'), facts(figurePairs(cache)))
}

function coverageValue(name, value) {
  if (typeof value === 'number' && /share|ratio|rate|coverage/i.test(name) && value <= 1) return formatPercent(value)
  if (typeof value === 'number') return formatNumber(value)
  return String(value)
}

/** Any JSON: objects as nested definition lists, arrays of objects as tables (top missed keys). */
function jsonView(value, name = '') {
  if (Array.isArray(value)) {
    if (value.length === 0) return h('span', { className: 'muted' }, t('never'))
    if (value.every((item) => item && typeof item === 'object' && !Array.isArray(item))) {
      const columns = [...new Set(value.flatMap((item) => Object.keys(item)))]
      return h('div', { className: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column)))),
        h('tbody', {}, value.slice(0, 50).map((item) => h('tr', {}, columns.map((column) => h('td', {}, item[column] === undefined ? '' : jsonView(item[column], column)))))),
      ))
    }
    return value.map((item) => coverageValue(name, item)).join(', ')
  }
  if (value && typeof value === 'object') {
    return h('dl', { className: 'facts nested' }, Object.entries(value).flatMap(([key, item]) => [h('dt', {}, key), h('dd', {}, jsonView(item, key))]))
  }
  return value === null ? t('never') : coverageValue(name, value)
}

export function renderCoverage(coverage, cache) {
  const body = $('#coverage-body')
  if (coverage?.error) {
    replaceChildren(body, h('p', { className: 'error' }, t('coverage.unavailable', { message: coverage.error })))
    return
  }
  if (coverage?.data) {
    replaceChildren(body, jsonView(coverage.data))
    return
  }
  const counters = unavailable(cache) || !cache ? null : cache
  replaceChildren(body,
    h('p', { className: 'muted' }, t('coverage.pending')),
    counters && typeof counters.hitRate === 'number'
      ? h('p', { id: 'coverage-share' }, t('coverage.fromCounters', { share: formatPercent(counters.hitRate), hits: formatNumber(counters.hits), stale: formatNumber(counters.stale), misses: formatNumber(counters.misses) }))
      : null,
  )
}
