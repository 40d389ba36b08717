// Waiting in tests, in one place: a plain delay, one poller that every suite's wait helper wraps
// (deadlines are generous and measured with performance.now, which fake Date timers leave alone),
// and a clock moved forward without waiting for it.
import { mock } from 'node:test'

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export interface PollOptions {
  intervalMs?: number
  /** Report the last error a throwing check raised (a throwing check counts as not yet). */
  reportErrors?: boolean
}

/** Polls `check` until it returns something other than undefined or false; fails after `timeoutMs` naming `what`. */
export async function poll<T>(what: string | (() => string), timeoutMs: number, check: () => Promise<T | undefined | false> | T | undefined | false, options: PollOptions = {}): Promise<T> {
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (error) {
      last = error
    }
    if (performance.now() > deadline) {
      const name = typeof what === 'string' ? what : what()
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${name}${options.reportErrors && last ? ` (last error: ${String(last)})` : ''}`)
    }
    await delay(options.intervalMs ?? 50)
  }
}

/**
 * Runs `use` with `Date` (and so every TTL, grace and expiry check that reads Date.now) moved
 * `ms` ahead and frozen there, without waiting that long: real timers, sockets and the database
 * keep their own time. The real clock is back when `use` settles.
 */
export async function withClockAhead<T>(ms: number, use: () => Promise<T>): Promise<T> {
  mock.timers.enable({ apis: ['Date'], now: Date.now() + ms })
  try {
    return await use()
  } finally {
    mock.timers.reset()
  }
}
