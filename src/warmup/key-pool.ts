// Listing and warming keys: bounded concurrency, a timeout per call, and no single key able
// to stop the rest. Kept apart from the runner so the run bookkeeping stays readable.
//
// Warming yields to requests (the scheduled runs fall at peak times): each worker lets the
// event loop turn (setImmediate) between keys, so requests that arrived meanwhile are served
// before the next key's work starts; and while the loop runs late (LoopPressure: the event-loop
// delay's p99 over the last quarter second above 20 ms, i.e. requests are queueing), only one
// key is warmed at a time instead of `concurrency`.
import { withTimeout } from '../async-limits.ts'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises'
import { errorMessage } from './logger.ts'
import type { WarmTarget } from './targets.ts'

export interface PlannedKey {
  key: string
  target: string
  group: string
  warm: () => Promise<void>
}

export interface ListingFailure {
  target: string
  group: string
  message: string
  durationMs: number
}

export interface KeyResult {
  planned: PlannedKey
  ok: boolean
  durationMs: number
  error?: string
}

/**
 * Asks every target for its keys, all at once (listing is usually one query each).
 * A key produced twice (two targets, or one target repeating itself) is warmed once.
 */
export async function planKeys(targets: readonly WarmTarget[], timeoutMs: number): Promise<{ keys: PlannedKey[]; listingFailures: ListingFailure[]; perTarget: Map<string, number> }> {
  const listed = await Promise.all(targets.map(async (target) => {
    const started = performance.now()
    let keys: Awaited<ReturnType<WarmTarget['keys']>> = []
    try {
      await withTimeout(async () => {
        keys = await target.keys()
      }, timeoutMs)
      return { target, keys, failure: undefined }
    } catch (error) {
      const failure: ListingFailure = { target: target.name, group: target.group, message: `listing keys failed: ${errorMessage(error)}`, durationMs: performance.now() - started }
      return { target, keys: [], failure }
    }
  }))
  const seen = new Set<string>()
  const keys: PlannedKey[] = []
  const listingFailures: ListingFailure[] = []
  const perTarget = new Map<string, number>()
  for (const { target, keys: targetKeys, failure } of listed) {
    if (failure) listingFailures.push(failure)
    let count = 0
    for (const warmKey of targetKeys) {
      if (seen.has(warmKey.key)) continue
      seen.add(warmKey.key)
      count += 1
      keys.push({ key: warmKey.key, target: target.name, group: target.group, warm: () => warmKey.warm() })
    }
    perTarget.set(target.name, count)
  }
  return { keys, listingFailures, perTarget }
}

/** Whether this process's event loop is running late, sampled while a run warms keys. */
export class LoopPressure {
  #histogram: IntervalHistogram | undefined
  #timer: NodeJS.Timeout | undefined
  #users = 0
  #late = false
  /** Samples found late since start: how often a run slowed down for requests (tests, logs). */
  lateSamples = 0

  constructor(private readonly lateMs = 20, private readonly sampleMs = 250) {}

  get late(): boolean {
    return this.#late
  }

  /** Starts sampling (counted: runs may overlap in tests); returns the stop function. */
  start(): () => void {
    this.#users += 1
    if (this.#users === 1) {
      const histogram = monitorEventLoopDelay({ resolution: 10 })
      histogram.enable()
      this.#histogram = histogram
      this.#timer = setInterval(() => {
        this.#late = histogram.percentile(99) / 1e6 > this.lateMs
        if (this.#late) this.lateSamples += 1
        histogram.reset()
      }, this.sampleMs)
      this.#timer.unref()
    }
    let stopped = false
    return () => {
      if (stopped) return
      stopped = true
      this.#users -= 1
      if (this.#users > 0) return
      clearInterval(this.#timer)
      this.#histogram?.disable()
      this.#histogram = undefined
      this.#late = false
    }
  }
}

/**
 * Warms keys with at most `concurrency` in flight (one while `pressure` says the loop is late).
 * `shouldStop` is checked before each key so an aborted run finishes the keys in flight and
 * starts no new one.
 */
export async function warmKeys(keys: readonly PlannedKey[], options: { concurrency: number; timeoutMs: number; shouldStop: () => boolean; onResult: (result: KeyResult) => void; pressure?: LoopPressure }): Promise<void> {
  let next = 0
  const { pressure } = options
  const worker = async (index: number): Promise<void> => {
    while (next < keys.length && !options.shouldStop()) {
      // Workers other than the first rest while requests are queueing.
      if (index > 0 && pressure?.late) {
        await sleep(50)
        continue
      }
      const planned = keys[next++]!
      const started = performance.now()
      try {
        await withTimeout(() => planned.warm(), options.timeoutMs)
        options.onResult({ planned, ok: true, durationMs: performance.now() - started })
      } catch (error) {
        options.onResult({ planned, ok: false, durationMs: performance.now() - started, error: errorMessage(error) })
      }
      // Let the requests that arrived meanwhile run before this worker's next key.
      await turn()
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency, keys.length))
  const stop = pressure?.start()
  try {
    await Promise.all(Array.from({ length: workers }, (_unused, index) => worker(index)))
  } finally {
    stop?.()
  }
}
