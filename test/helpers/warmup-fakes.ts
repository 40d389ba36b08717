// Test doubles for the warmup engine: a real pino logger writing into an array (so the
// tests prove pino compatibility and can read the log lines), and targets whose keys
// succeed, fail, hang or count how many run at once.
import pino from 'pino'
import type { WarmKey, WarmTarget } from '../../src/warmup/targets.ts'
import { WarmTargetRegistry } from '../../src/warmup/targets.ts'
import { delay, poll } from './wait.ts'

export interface CapturedLog {
  level: number
  msg: string
  [field: string]: unknown
}

export function captureLogger(): { logger: pino.Logger; lines: CapturedLog[]; messages: () => string[] } {
  const lines: CapturedLog[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as CapturedLog) })
  return { logger, lines, messages: () => lines.map((line) => line.msg) }
}

/** The groups the app defines; 'details' is opt-in. */
export function appGroups(): WarmTargetRegistry {
  return new WarmTargetRegistry(['primary', 'secondary', 'filters', 'stats', { name: 'details', optIn: true }])
}

export interface FakeTargetOptions {
  /** Keys whose warm() rejects. */
  failing?: string[]
  /** ms each warm() takes (a real timer). */
  delayMs?: number
  /** Called with each key as it is warmed. */
  onWarm?: (key: string) => void | Promise<void>
}

export function fakeTarget(name: string, group: string, keys: string[], options: FakeTargetOptions = {}): WarmTarget & { warmed: string[] } {
  const warmed: string[] = []
  return {
    name,
    group,
    warmed,
    keys: (): WarmKey[] => keys.map((key) => ({
      key,
      warm: async () => {
        await options.onWarm?.(key)
        if (options.delayMs) await delay(options.delayMs)
        if (options.failing?.includes(key)) throw new Error(`cannot warm ${key}`)
        warmed.push(key)
      },
    })),
  }
}

/** Counts warm() calls in flight, to check the concurrency bound. */
export function concurrencyProbe(): { onWarm: () => Promise<void>; max: () => number } {
  let inFlight = 0
  let max = 0
  return {
    onWarm: async () => {
      inFlight += 1
      max = Math.max(max, inFlight)
      await delay(5)
      inFlight -= 1
    },
    max: () => max,
  }
}

/** A promise with its resolve handle, for holding a warm() or a tick open. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => {
    resolve = done
  })
  return { promise, resolve }
}

/** Polls until check() is true, failing after timeoutMs. Short real waits only. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  await poll(what, timeoutMs, check, { intervalMs: 20 })
}

/** Deletes a test's BullMQ queue (schedules outlive the schedulers on purpose, so tests clean up). */
export async function obliterateQueue(redisUrl: string, prefix: string, name = 'warmup'): Promise<void> {
  const { Queue } = await import('bullmq')
  const queue = new Queue(name, { connection: { url: redisUrl }, prefix })
  try {
    await queue.obliterate({ force: true })
  } finally {
    await queue.close()
  }
}
