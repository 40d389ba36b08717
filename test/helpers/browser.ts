// Debian's chromium driven by playwright-core, for the dashboard's browser tests and the
// screenshot script. Each launch gets a fresh user data directory, removed on close. Console
// errors and failed page loads are collected so a test can assert there were none.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

export const CHROMIUM_PATH = '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
]

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH)
}

export interface BrowserSession {
  context: BrowserContext
  page: Page
  /** Console messages of type error and uncaught page errors, in order. */
  consoleErrors: string[]
  close(): Promise<void>
}

export async function openBrowser(options: { viewport?: { width: number; height: number }; locale?: string } = {}): Promise<BrowserSession> {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'schools-chromium-'))
  let context: BrowserContext | undefined
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: options.viewport ?? { width: 1280, height: 900 },
      locale: options.locale ?? 'en-GB',
      timezoneId: 'Europe/London',
    })
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true })
    throw error
  }
  const page = context.pages()[0] ?? (await context.newPage())
  const consoleErrors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`))
  return {
    context,
    page,
    consoleErrors,
    close: async () => {
      await context.close().catch(() => {})
      await rm(userDataDir, { recursive: true, force: true })
    },
  }
}
