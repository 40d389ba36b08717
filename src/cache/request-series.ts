// A small in-memory time series of what the cache answered: hit / stale / miss counts per
// minute over the last `minutes` minutes. Fixed memory (one slot per minute, a ring), O(1) per
// request, no timers: a slot is reset when the clock reaches it again. Generic: it counts
// whatever states it is fed (by ResponseCache.onEvent).
import type { CacheState } from './cache-events.ts'

export interface SeriesPoint {
  /** Start of the minute (ms since the epoch). */
  minute: number
  hit: number
  stale: number
  miss: number
}

const MINUTE_MS = 60_000

export class RequestSeries {
  readonly #slots: SeriesPoint[]

  constructor(readonly minutes = 60, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > 24 * 60) throw new Error('minutes must be an integer from 1 to 1440')
    this.#slots = Array.from({ length: minutes }, () => ({ minute: -1, hit: 0, stale: 0, miss: 0 }))
  }

  record(state: CacheState): void {
    const minute = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS
    const slot = this.#slots[(minute / MINUTE_MS) % this.minutes]!
    if (slot.minute !== minute) {
      slot.minute = minute
      slot.hit = 0
      slot.stale = 0
      slot.miss = 0
    }
    slot[state] += 1
  }

  /** One point per minute, oldest first, ending with the current minute; minutes without requests are zeros. */
  points(): SeriesPoint[] {
    const current = Math.floor(this.now() / MINUTE_MS) * MINUTE_MS
    const points: SeriesPoint[] = []
    for (let index = this.minutes - 1; index >= 0; index--) {
      const minute = current - index * MINUTE_MS
      const slot = this.#slots[(minute / MINUTE_MS) % this.minutes]!
      points.push(slot.minute === minute ? { ...slot } : { minute, hit: 0, stale: 0, miss: 0 })
    }
    return points
  }
}
