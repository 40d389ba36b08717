import { openBrowser } from '../helpers/browser.ts'
const s = await openBrowser()
const { page } = s
await page.goto('http://127.0.0.1:3977/admin')
await page.fill('#token', 'dev-admin-token-0123456789')
await page.click('#login-form button[type=submit]')
await page.waitForSelector('#jobs tbody tr[data-job]')
await page.selectOption('#warm-group', 'stats')
await page.click('#warm')
await page.waitForSelector('#action-result[data-status=succeeded]', { timeout: 60000 })
console.log(await page.textContent('#action-result'))
await page.screenshot({ path: '/tmp/h7-shot.png', fullPage: true })
console.log('errors', s.consoleErrors)
await s.close()
