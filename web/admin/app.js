// The operator dashboard: asks for the admin token once per tab, then polls the admin API
// every few seconds and renders the scheduler, runs, cache and coverage; the actions start
// warmups and follow the run they started.
import { api, ApiError, forgetToken, storedToken, storeToken } from './api.js'
import { CacheChart, hourSummary } from './chart.js'
import { $, h, replaceChildren, show } from './dom.js'
import { formatDuration, formatNumber } from './format.js'
import { applyLanguage, currentLanguage, t } from './i18n.js'
import { renderCacheFigures, renderCoverage, renderCurrent, renderRunDetails, renderRuns, renderScheduler } from './views.js'

const POLL_MS = 3000
const COVERAGE_EVERY_MS = 15_000
const RUNS_PAGE_SIZE = 10
const LANGUAGE_KEY = 'schools.dashboardLanguage'

const state = {
  timer: undefined,
  polling: false,
  runsPage: 1,
  /** The last answers, kept so a language switch re-renders without a request. */
  last: null,
  coverage: null,
  coverageAt: 0,
  /** When the last answers arrived. */
  updatedAt: null,
  /** The run the last action started, followed until it finishes. */
  followed: null,
  chart: null,
}

function showLogin(message) {
  stopPolling()
  show($('#dashboard'), false)
  show($('#logout'), false)
  show($('#login'), true)
  const error = $('#login-error')
  error.textContent = message ?? ''
  show(error, Boolean(message))
  $('#token').focus()
}

function showDashboard() {
  show($('#login'), false)
  show($('#dashboard'), true)
  show($('#logout'), true)
  state.chart ??= new CacheChart($('#chart'))
}

function stopPolling() {
  clearTimeout(state.timer)
  state.timer = undefined
}

function schedule() {
  stopPolling()
  state.timer = setTimeout(() => void refresh(), POLL_MS)
}

async function readCoverage(endpoints) {
  if (!endpoints?.coverage) return null
  if (state.coverage && Date.now() - state.coverageAt < COVERAGE_EVERY_MS) return state.coverage
  try {
    state.coverage = { data: await api('/api/scheduler/coverage') }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error
    state.coverage = { error: error.message }
  }
  state.coverageAt = Date.now()
  return state.coverage
}

/** One poll: every section from one consistent set of answers. */
async function refresh() {
  if (state.polling) return
  state.polling = true
  try {
    const [status, dashboard, runs] = await Promise.all([
      api('/api/scheduler/status'),
      api('/api/scheduler/dashboard'),
      api(`/api/scheduler/runs?page=${state.runsPage}&pageSize=${RUNS_PAGE_SIZE}`),
    ])
    const coverage = await readCoverage(dashboard.endpoints)
    state.last = { status, dashboard, runs, coverage }
    state.updatedAt = new Date()
    render()
    show($('#load-error'), false)
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetToken()
      showLogin(t('login.invalid', { status: error.status, message: error.message }))
      return
    }
    const banner = $('#load-error')
    banner.textContent = t('loadError', { message: error.message })
    show(banner, true)
  } finally {
    state.polling = false
  }
  if (storedToken()) schedule()
}

function render() {
  if (!state.last) return
  const { status, dashboard, runs, coverage } = state.last
  const timeZone = status.scheduler?.timeZone ?? 'Asia/Hong_Kong'
  renderScheduler(status, dashboard)
  renderCurrent(dashboard, timeZone)
  renderRuns(runs, timeZone, openDetails)
  renderCacheFigures(status.cache, dashboard)
  const points = state.chart.add(dashboard.instance, dashboard.series.points)
  state.chart.render(points)
  replaceChildren($('#cache-hour'), hourSummary(points), h('br'), t('cache.instances', { instances: state.chart.instances().join(', ') }))
  renderCoverage(coverage, status.cache)
  renderGroups(status.groups ?? [])
  renderFollowed(runs.items)
  renderUpdated()
}

/** When the figures were read, in Hong Kong time and the page's language (a switch re-renders it). */
function renderUpdated() {
  if (!state.updatedAt) return
  $('#updated').textContent = t('updated', { time: state.updatedAt.toLocaleTimeString(currentLanguage() === 'zh' ? 'zh-HK' : 'en-GB', { timeZone: 'Asia/Hong_Kong', hour12: false }) })
}

function renderGroups(groups) {
  const select = $('#warm-group')
  // Group infos ({ name, optIn, targets }) from the registry; plain names accepted too.
  const names = groups.map((group) => (typeof group === 'string' ? group : group.name))
  const wanted = ['all', ...names.filter((name) => name !== 'all')]
  if ([...select.options].map((option) => option.value).join() === wanted.join()) return
  const selected = select.value || 'all'
  replaceChildren(select, wanted.map((group) => h('option', { value: group }, group)))
  select.value = wanted.includes(selected) ? selected : 'all'
}

/** The followed run's line: started, running, then its outcome once it is in the history. */
function renderFollowed(items) {
  const result = $('#action-result')
  const followed = state.followed
  if (!followed) return
  result.dataset.runId = followed.runId
  const run = items.find((item) => item.runId === followed.runId)
  if (run && run.status !== 'running') {
    result.dataset.status = run.status
    result.textContent = t('actions.finished', { runId: run.runId, status: t(`status.${run.status}`), keys: formatNumber(run.keys), warmed: formatNumber(run.warmed), failed: formatNumber(run.failed), duration: formatDuration(run.durationMs) })
  } else if (run) {
    result.dataset.status = 'running'
    result.textContent = t('actions.running', { runId: run.runId })
  } else {
    result.dataset.status = 'queued'
    result.textContent = t(followed.joined ? 'actions.joined' : 'actions.started', { runId: followed.runId, groups: followed.groups })
  }
}

function openDetails(run) {
  renderRunDetails(run)
  $('#run-details').showModal()
}

async function startRun(path, body, groups) {
  const result = $('#action-result')
  try {
    const accepted = await api(path, { method: 'POST', body })
    state.followed = { runId: accepted.runId, joined: Boolean(accepted.alreadyRunning), groups }
    state.runsPage = 1
    renderFollowed([])
    void refresh()
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetToken()
      showLogin(t('login.invalid', { status: error.status, message: error.message }))
      return
    }
    delete result.dataset.runId
    result.dataset.status = 'error'
    result.textContent = t('actions.failed', { status: error.status ?? 0, message: error.message })
  }
}

async function signIn(token) {
  try {
    // Checked before it is kept: a wrong token shows an error and no data.
    await api('/api/scheduler/status', { token })
  } catch (error) {
    if (error instanceof ApiError && error.status !== 0) showLogin(t('login.invalid', { status: error.status, message: error.message }))
    else showLogin(t('login.unreachable', { message: error.message }))
    return
  }
  storeToken(token)
  $('#token').value = ''
  showDashboard()
  await refresh()
}

function wire() {
  $('#login-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const token = $('#token').value.trim()
    if (token) void signIn(token)
  })
  $('#logout').addEventListener('click', () => {
    forgetToken()
    state.last = null
    state.followed = null
    showLogin()
  })
  $('#lang').addEventListener('click', () => {
    const next = currentLanguage() === 'en' ? 'zh' : 'en'
    localStorage.setItem(LANGUAGE_KEY, next)
    applyLanguage(next)
    state.chart?.relabel()
    render()
  })
  $('#warm-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const group = $('#warm-group').value || 'all'
    void startRun('/api/scheduler/warmup', { type: group, async: true }, group)
  })
  const dialog = $('#confirm-clear')
  $('#clear').addEventListener('click', () => dialog.showModal())
  $('#confirm-cancel').addEventListener('click', () => dialog.close())
  $('#confirm-ok').addEventListener('click', () => {
    dialog.close()
    void startRun('/api/scheduler/clear-and-warmup', { async: true }, 'all')
  })
  $('#details-close').addEventListener('click', () => $('#run-details').close())
  $('#runs-prev').addEventListener('click', () => {
    state.runsPage = Math.max(1, state.runsPage - 1)
    void refresh()
  })
  $('#runs-next').addEventListener('click', () => {
    state.runsPage += 1
    void refresh()
  })
}

wire()
// Until the operator picks one, the browser's preferred language decides (Chinese for any zh-* locale).
const browserLanguage = /^zh\b/i.test(window.navigator.language ?? '') ? 'zh' : 'en'
applyLanguage(localStorage.getItem(LANGUAGE_KEY) ?? browserLanguage)
if (storedToken()) {
  showDashboard()
  void refresh()
} else {
  showLogin()
}
