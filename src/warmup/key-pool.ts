// Listing and warming keys: bounded concurrency, a timeout per call, and no single key able
// to stop the rest. Kept apart from the runner so the run bookkeeping stays readable.
//
// Warming yields to requests (the scheduled runs fall at peak times): each worker lets the
// event loop turn (setImmediate) between keys, so requests that arrived meanwhile are served
// before the next key's work starts; while the loop runs late (LoopPressure: the event-loop
// delay's p99 over the last quarter second above 20 ms, i.e. requests are queueing), only one
// key is warmed at a time instead of `concurrency`; and while requests keep the loop busy
// (utilization of at least 25% with at least `busyRequestsPerSecond` served), that one worker
// also pauses `busyPauseMs` after each key, so a warmup takes a small share of a loaded loop
// (about 1% for a renewal, 15-20% for a load) instead of competing with requests as an equal.
// A run starts paced and is measured after 50 ms, so its first keys do not land on a loaded
// loop all at once; once busy it stays so while the requests keep coming and the loop stays
// half as utilized (the paced warmup no longer adds to it). A warmup with no traffic to share
// the loop with runs at full speed. Why these numbers: docs/generations.md.
import { withTimeout } from '../async-limits.ts'
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks'
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

export interface LoopPressureOptions {
  /** p99 event-loop delay (ms) above which the loop counts as late. Default 20. */
  lateMs?: number
  sampleMs?: number
  /** A count of requests served, ever increasing (the cache's reads); without it the loop is never busy. */
  demand?: () => number
  /** Default 200: below it, requests are too few to compete with a warmup for the loop. */
  busyRequestsPerSecond?: number
  /** Default 0.25; a busy loop stays busy down to half of it. */
  busyUtilization?: number
  /** The pause after each key while busy. Default 15 ms. */
  busyPauseMs?: number
  /** A run is paced until its first sample, this long after it starts. Default 50 ms. */
  firstSampleMs?: number
}

/**
 * Whether a sample of the loop says requests are competing with a warmup for it. A loop that
 * was busy stays busy down to half the utilization: pacing the warmup is what lowered it.
 */
export function loopBusy(utilization: number, requestsPerSecond: number, options: Pick<LoopPressureOptions, 'busyRequestsPerSecond' | 'busyUtilization'> = {}, wasBusy = false): boolean {
  const threshold = options.busyUtilization ?? 0.25
  return utilization >= (wasBusy ? threshold / 2 : threshold) && requestsPerSecond >= (options.busyRequestsPerSecond ?? 200)
}

/** Whether this process's event loop is running late or busy with requests, sampled while a run warms keys. */
export class LoopPressure {
  #histogram: IntervalHistogram | undefined
  #timer: NodeJS.Timeout | undefined
  #users = 0
  #late = false
  #busy = false
  /** Samples found late since start: how often a run slowed down for requests (tests, logs). */
  lateSamples = 0
  /** Samples found busy with requests since start. */
  busySamples = 0
  readonly #lateMs: number
  readonly #sampleMs: number
  readonly #firstSampleMs: number

  constructor(private readonly options: LoopPressureOptions = {}) {
    this.#lateMs = options.lateMs ?? 20
    this.#sampleMs = options.sampleMs ?? 250
    this.#firstSampleMs = options.firstSampleMs ?? 50
  }

  get late(): boolean {
    return this.#late
  }

  get busy(): boolean {
    return this.#busy
  }

  get busyPauseMs(): number {
    return this.options.busyPauseMs ?? 15
  }

  /** Starts sampling (counted: runs may overlap in tests), paced until the first sample; returns the stop function. */
  start(): () => void {
    this.#users += 1
    if (this.#users === 1) {
      const histogram = monitorEventLoopDelay({ resolution: 10 })
      histogram.enable()
      this.#histogram = histogram
      this.#busy = true
      let utilization: EventLoopUtilization = performance.eventLoopUtilization()
      let served = this.options.demand?.() ?? 0
      const sample = (sampleMs: number, wasBusy: boolean): void => {
        this.#late = histogram.percentile(99) / 1e6 > this.#lateMs
        if (this.#late) this.lateSamples += 1
        histogram.reset()
        const now = performance.eventLoopUtilization()
        const servedNow = this.options.demand?.() ?? 0
        this.#busy = loopBusy(performance.eventLoopUtilization(now, utilization).utilization, ((servedNow - served) * 1000) / sampleMs, this.options, wasBusy)
        if (this.#busy) this.busySamples += 1
        utilization = now
        served = servedNow
      }
      // The first sample judges the loop with the warmup paced: what it finds busy is the requests.
      this.#timer = setTimeout(() => {
        sample(this.#firstSampleMs, false)
        this.#timer = setInterval(() => sample(this.#sampleMs, this.#busy), this.#sampleMs)
        this.#timer.unref()
      }, this.#firstSampleMs)
      this.#timer.unref()
    }
    let stopped = false
    return () => {
      if (stopped) return
      stopped = true
      this.#users -= 1
      if (this.#users > 0) return
      clearTimeout(this.#timer)
      this.#histogram?.disable()
      this.#histogram = undefined
      this.#late = false
      this.#busy = false
    }
  }
}

/**
 * Warms keys with at most `concurrency` in flight (one, pausing after each key, while `pressure`
 * says the loop is late or busy with requests).
 * `shouldStop` is checked before each key so an aborted run finishes the keys in flight and
 * starts no new one.
 */
export async function warmKeys(keys: readonly PlannedKey[], options: { concurrency: number; timeoutMs: number; shouldStop: () => boolean; onResult: (result: KeyResult) => void; pressure?: LoopPressure }): Promise<void> {
  let next = 0
  const { pressure } = options
  const worker = async (index: number): Promise<void> => {
    while (next < keys.length && !options.shouldStop()) {
      // Workers other than the first rest while requests are queueing or keep the loop busy.
      if (index > 0 && (pressure?.late || pressure?.busy)) {
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
      // Let the requests that arrived meanwhile run before this worker's next key; while they
      // keep the loop busy, leave it to them for a while.
      if (pressure?.busy) await sleep(pressure.busyPauseMs)
      else await turn()
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
