// `npm run screenshot`: regenerates docs/dashboard.png, the README's picture of the operator
// dashboard. Starts the server in this process on an in-memory PGlite with the local scheduler,
// sends some school API traffic (misses, then hits) so the cache chart has points, signs in
// with Chromium, warms every group from the page, and captures the page once the run is done.
// Needs Debian's chromium (apt-get install -y chromium; fonts-noto-cjk for the 中文 button).
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { loadConfig, PROJECT_ROOT } from '../src/config.ts'
import { createLogger } from '../src/logger.ts'
import { startServer } from '../src/server.ts'
import { openBrowser } from '../test/helpers/browser.ts'
import { finishedRow, signIn, warmGroup } from '../test/dashboard/dashboard-support.ts'

const output = process.argv[2] ?? path.join(PROJECT_ROOT, 'docs', 'dashboard.png')
const token = randomBytes(18).toString('base64url')
const config = loadConfig({
  PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', LOG_FILE: '', PGLITE_DIR: 'memory://', ADMIN_TOKEN: token,
  SCHEDULER: 'local', WARMUP_ON_BOOT: 'false',
})
const server = await startServer({ config, logger: createLogger(config), defaultMetrics: false })
const browser = await openBrowser({ viewport: { width: 1280, height: 900 } })
try {
  // Traffic: each list page twice (a miss, then a hit), so the chart and counters have figures.
  for (const level of ['primary', 'secondary']) {
    for (let page = 1; page <= 5; page++) {
      for (let repeat = 0; repeat < 2; repeat++) {
        const answer = await fetch(`${server.address}/api/schools/${level}?page=${page}`)
        await answer.arrayBuffer()
      }
    }
  }
  const { page } = browser
  await signIn(page, server.address, token)
  await page.waitForSelector('#jobs tbody tr[data-job]', { timeout: 60_000 })
  const runId = await warmGroup(page, 'all')
  await finishedRow(page, runId, 300_000)
  await page.waitForSelector(`#action-result[data-run-id="${runId}"]:not([data-status="queued"]):not([data-status="running"])`, { timeout: 60_000 })
  // One more poll so the chart includes the warmup's own cache answers.
  // (A selector, not waitForFunction: the page's CSP forbids the eval that a function string needs.)
  await page.waitForSelector(`#updated:not(:text-is(${JSON.stringify(await page.textContent('#updated'))}))`, { timeout: 30_000 })
  await page.screenshot({ path: output, fullPage: true })
  if (browser.consoleErrors.length > 0) throw new Error(`console errors on the page: ${browser.consoleErrors.join('; ')}`)
  console.log(`dashboard screenshot written to ${path.relative(process.cwd(), output)} (run ${runId})`)
} finally {
  await browser.close()
  await server.close()
}
