// Issue 13: the operator dashboard in real Chromium (Debian's, driven by playwright-core),
// against the real server on PGlite with the local scheduler: a wrong token shows an error and
// no data; signing in (keyboard only) shows the four default jobs with their next runs in Hong
// Kong time; warming `stats` shows the run appear and finish with its key count; the token is
// kept for the tab; labels switch to Traditional Chinese; clear-and-warmup asks first; a phone
// viewport has no horizontal scrolling in either language; and the console stays free of errors throughout, with
// the page served under a CSP that forbids inline scripts and styles (as helmet's will).
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { AddressInfo } from 'node:net'
import { TEST_ADMIN_TOKEN, createTestApp, type TestApp } from '../helpers/app.ts'
import { openBrowser, type BrowserSession } from '../helpers/browser.ts'
import { DEFAULT_SCHEDULE } from '../../src/config.ts'
import type { WarmupRunRecord } from '../../src/warmup/summary.ts'
import { browserSkipReason, finishedRow, hongKongTime, isUnauthorizedLoad, jobRows, signIn, warmGroup } from './dashboard-support.ts'

/** At least as strict as the server's own CSP: nothing inline, nothing from another origin. */
const STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"

interface StatusAnswer {
  scheduler: { backend: string; jobs: { name: string; nextRun: string | null }[] }
}

describe('operator dashboard in Chromium (PGlite, local scheduler)', { skip: browserSkipReason() }, () => {
  let server: TestApp
  let baseUrl: string
  let browser: BrowserSession

  const adminGet = async <T>(path: string): Promise<T> => {
    const answer = await server.app.inject({ method: 'GET', url: path, headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } })
    assert.equal(answer.statusCode, 200, answer.body)
    return answer.json<T>()
  }

  before(async () => {
    server = await createTestApp({ env: { SCHEDULER: 'local' } })
    await server.runtime.scheduler!.start()
    await server.app.listen({ host: '127.0.0.1', port: 0 })
    baseUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`
    browser = await openBrowser()
    // Every page load gets the strict CSP header added; a violation is a console error.
    await browser.context.route((url) => url.pathname.startsWith('/admin'), async (route) => {
      // Redirects (GET /admin) go back to the page as they are, so it follows them itself.
      const response = await route.fetch({ maxRedirects: 0 })
      await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': STRICT_CSP } })
    })
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })

  test('a wrong token shows an error, not the data, and is not kept', async () => {
    const { page } = browser
    const served = await page.goto(`${baseUrl}/admin/`)
    assert.equal(served?.headers()['content-security-policy'], STRICT_CSP, 'the page runs under the strict CSP')
    await signIn(page, baseUrl, 'wrong-token-0123456789abcdef')
    const error = await page.waitForSelector('#login-error:not([hidden])', { timeout: 30_000 })
    assert.match((await error.textContent()) ?? '', /refused \(401\)/)
    assert.equal(await page.isHidden('#dashboard'), true, 'the dashboard stays hidden')
    assert.equal(await page.locator('#jobs tbody tr').count(), 0, 'no job was rendered')
    assert.equal(await page.evaluate('sessionStorage.length'), 0, 'nothing kept in sessionStorage')
    assert.deepEqual(browser.consoleErrors.filter((message) => !isUnauthorizedLoad(message)), [], 'only the refused request itself is reported')
    browser.consoleErrors.length = 0
  })

  test('signing in shows the four default jobs with their next runs in Hong Kong time', async () => {
    const { page } = browser
    await signIn(page, baseUrl, TEST_ADMIN_TOKEN)
    await page.waitForSelector('#jobs tbody tr[data-job]', { timeout: 30_000 })
    const status = await adminGet<StatusAnswer>('/api/scheduler/status')
    assert.equal(await page.textContent('#backend'), 'local')
    const rows = await jobRows(page)
    assert.deepEqual(rows.map((row) => row.name), DEFAULT_SCHEDULE.map((job) => job.name))
    for (const row of rows) {
      const job = status.scheduler.jobs.find((candidate) => candidate.name === row.name)
      assert.ok(job?.nextRun, `${row.name} has a next run`)
      assert.equal(row.nextRunIso, job.nextRun)
      assert.equal(row.nextRun, hongKongTime(job.nextRun), `${row.name}: next run shown in Hong Kong time`)
    }
    const daily = rows.find((row) => row.name === 'daily-all-0300')!
    assert.match(daily.nextRun, / 03:00:00 HKT$/, 'the 03:00 job fires at 03:00 Hong Kong time')
    assert.equal(await page.evaluate('sessionStorage.length'), 1, 'the token is kept for the tab')
    assert.deepEqual(browser.consoleErrors, [])
  })

  test('warming stats shows its run appear and finish with its key count', async () => {
    const { page } = browser
    const runId = await warmGroup(page, 'stats')
    const row = await finishedRow(page, runId)
    const record = await adminGet<WarmupRunRecord>(`/api/scheduler/runs/${runId}`)
    assert.equal(row.status, record.status)
    assert.equal(record.status, 'succeeded')
    assert.ok(record.groups.includes('stats'), `run ${runId} warmed stats (${record.groups.join(', ')})`)
    assert.ok(record.keys > 0)
    assert.equal(row.keys, String(record.keys), 'the row shows the run\'s key count')
    const result = await page.waitForSelector(`#action-result[data-run-id="${runId}"][data-status="succeeded"]`, { timeout: 30_000 })
    assert.match((await result.textContent()) ?? '', new RegExp(`${runId} succeeded: ${record.keys} keys`))

    // The run's errors and slowest keys open on click (here: with Enter on the focused button).
    await page.focus(`#runs-table tr[data-run-id="${runId}"] button`)
    await page.keyboard.press('Enter')
    await page.waitForSelector('#run-details[open]')
    assert.equal(await page.locator('#details-slowest li').count(), Math.min(record.slowest.length, 10))
    await page.keyboard.press('Escape')
    await page.waitForSelector('#run-details:not([open])', { state: 'attached' })
    assert.deepEqual(browser.consoleErrors, [])
  })

  test('the token survives a reload; the labels switch to Traditional Chinese and back', async () => {
    const { page } = browser
    await page.reload()
    await page.waitForSelector('#jobs tbody tr[data-job]', { timeout: 30_000 })
    assert.equal(await page.isHidden('#login'), true, 'no second sign-in in the same tab')
    await page.click('#lang')
    assert.equal(await page.textContent('h1'), '營運監控台')
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hant-HK')
    assert.match((await page.textContent('#updated')) ?? '', /^更新於 /, 'the time of the last refresh too')
    await page.waitForSelector('#runs-table tbody tr[data-status="succeeded"] .badge:text("成功")', { timeout: 30_000 })
    await page.click('#lang')
    assert.equal(await page.textContent('h1'), 'Operator dashboard')
    assert.deepEqual(browser.consoleErrors, [])
  })

  test('clear-and-warmup says what it does and asks first; cancelling starts nothing', async () => {
    const { page } = browser
    const before = await adminGet<{ total: number }>('/api/scheduler/runs?page=1&pageSize=1')
    await page.click('#clear')
    const dialog = await page.waitForSelector('#confirm-clear[open]')
    assert.match((await dialog.textContent()) ?? '', /marked expired.*full warmup of all groups/s)
    await page.click('#confirm-cancel')
    await page.waitForSelector('#confirm-clear:not([open])', { state: 'attached' })
    assert.equal((await adminGet<{ total: number }>('/api/scheduler/runs?page=1&pageSize=1')).total, before.total, 'no run started')

    await page.click('#clear')
    await page.click('#confirm-ok')
    const result = await page.waitForSelector('#action-result[data-run-id]:not([data-status="queued"]):not([data-status="running"])', { timeout: 120_000 })
    const runId = (await result.getAttribute('data-run-id'))!
    const record = await adminGet<WarmupRunRecord>(`/api/scheduler/runs/${runId}`)
    assert.equal(record.trigger, 'admin:clear')
    assert.equal(await result.getAttribute('data-status'), record.status)
    assert.deepEqual(browser.consoleErrors, [])
  })

  test('on a phone-sized screen the page needs no sideways scrolling, in either language', async () => {
    // The same tab narrowed to a phone's width (a second Chromium would cost seconds on a busy machine).
    const { page } = browser
    const laptop = page.viewportSize()!
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      for (const lang of ['en', 'zh-Hant-HK']) {
        if ((await page.getAttribute('html', 'lang')) !== lang) await page.click('#lang')
        await page.waitForSelector('#jobs tbody tr[data-job]')
        const widths = await page.evaluate<{ page: number; screen: number }>('({ page: document.documentElement.scrollWidth, screen: window.innerWidth })')
        assert.equal(widths.screen, 390)
        assert.ok(widths.page <= widths.screen, `${lang}: page ${widths.page}px wide on a ${widths.screen}px screen`)
      }
    } finally {
      await page.click('#lang')
      await page.setViewportSize(laptop)
    }
    assert.deepEqual(browser.consoleErrors, [])
  })
})
