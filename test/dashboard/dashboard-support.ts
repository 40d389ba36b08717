// What the dashboard's browser suites share: whether they can run here, signing in, waiting
// for the page to show a run, and the Hong Kong time a job's next run must be shown in.
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { chromiumAvailable, CHROMIUM_PATH } from '../helpers/browser.ts'

const inCi = /^(1|true)$/i.test(process.env.CI ?? '')

/**
 * The reason to register a browser suite as skipped, or false to run it. With CI=true it
 * always runs: a missing chromium then fails the suite instead of hiding it.
 */
export function browserSkipReason(): string | false {
  if (chromiumAvailable() || inCi) return false
  return `chromium is not installed at ${CHROMIUM_PATH} (apt-get install -y chromium); the dashboard's browser tests need it`
}

/** What the page shows for a date in Hong Kong: 'YYYY-MM-DD HH:mm:ss HKT', computed here independently. */
export function hongKongTime(iso: string): string {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone: 'Asia/Hong_Kong', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
  }).formatToParts(new Date(iso)).map((part) => [part.type, part.value]))
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} HKT`
}

/** Signs in with the keyboard only: focus the token field, type, Enter. */
export async function signIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/admin`)
  await page.waitForSelector('#login:not([hidden])')
  await page.focus('#token')
  await page.keyboard.type(token)
  await page.keyboard.press('Enter')
}

export interface JobRow {
  name: string
  nextRun: string
  nextRunIso: string | null
}

export async function jobRows(page: Page): Promise<JobRow[]> {
  return page.$$eval('#jobs tbody tr[data-job]', (rows) => rows.map((row) => {
    const time = row.querySelector('td.next-run time')
    return { name: row.getAttribute('data-job') ?? '', nextRun: time?.textContent ?? '', nextRunIso: time?.getAttribute('datetime') ?? null }
  }))
}

/** Picks `group` in the select, presses the warm button, and returns the run id the page then follows (a new one). */
export async function warmGroup(page: Page, group: string): Promise<string> {
  await page.waitForSelector(`#warm-group option[value="${group}"]`, { state: 'attached' })
  await page.selectOption('#warm-group', group)
  // A run followed before leaves its id on the line until the answer for this one replaces it.
  const previous = await page.getAttribute('#action-result', 'data-run-id')
  await page.click('#warm')
  const result = await page.waitForSelector(previous ? `#action-result[data-run-id]:not([data-run-id="${previous}"])` : '#action-result[data-run-id]', { timeout: 30_000 })
  const runId = await result.getAttribute('data-run-id')
  assert.ok(runId, 'the page names the run it started')
  return runId
}

/** Waits until the runs table shows `runId` finished; returns its row's status and key count as shown. */
export async function finishedRow(page: Page, runId: string, timeoutMs = 120_000): Promise<{ status: string; keys: string; groups: string }> {
  const row = await page.waitForSelector(`#runs-table tbody tr[data-run-id="${runId}"]:not([data-status="running"])`, { timeout: timeoutMs })
  return row.evaluate((element) => {
    const cells = element.querySelectorAll('td')
    return { status: element.getAttribute('data-status') ?? '', keys: element.querySelector('.run-keys')?.textContent ?? '', groups: cells[2]?.textContent ?? '' }
  })
}

/** Chrome reports a refused request in the console itself; the wrong-token test expects exactly that one. */
export function isUnauthorizedLoad(message: string): boolean {
  return /Failed to load resource: the server responded with a status of 401/.test(message)
}
