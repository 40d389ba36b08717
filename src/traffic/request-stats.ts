// Per-instance request statistics: which canonical keys successful reads asked for, and per
// request class how many were answered from cache and how many asked for a key of the warm
// set. Memory is fixed whatever the traffic: two Space-Saving sketches and a few counters per
// class. record() is the only call on the hot path: no I/O, and no allocation once the
// sketches are full. The flusher (stats-flusher.ts) takes a batch every minute.
//
// One class may be thresholded (free-text searches): its keys go to a sketch of their own that
// lives for a window (an hour by default) and a key leaves this process only once it has
// certainly been seen `threshold` times in that window, so one person's typing never reaches
// the database.
import { SpaceSaving } from './space-saving.ts'

export type CacheState = 'hit' | 'miss' | 'stale'

export interface RequestStatisticsOptions {
  /** Request class names; record() takes the index of one (see classIndex). */
  classes: readonly string[]
  /** Keys counted per flush interval (the sketch's counters). */
  sketchSize: number
  /** The class whose keys are kept only above `threshold` (e.g. 'searches'). */
  thresholdClass?: string
  thresholdSketchSize?: number
  threshold?: number
  thresholdWindowMs?: number
  /** Longer keys are counted in the class totals only (a stated bound on what one key costs). */
  maxKeyLength?: number
  now?: () => number
}

export interface KeyCount {
  key: string
  requestClass: string
  requests: number
  misses: number
}

export interface ClassCount {
  requestClass: string
  requests: number
  /** Answered from cache (hit or stale). */
  cached: number
  /** Asked for a key of the warm set. */
  warm: number
}

export interface StatsBatch {
  /** When the counts in this batch started (ms). */
  since: number
  keys: KeyCount[]
  classes: ClassCount[]
}

const FIELDS = 3

export class RequestStatistics {
  readonly classes: readonly string[]
  readonly #main: SpaceSaving
  readonly #thresholded: SpaceSaving | undefined
  readonly #thresholdTag: number
  readonly #threshold: number
  readonly #windowMs: number
  readonly #maxKeyLength: number
  readonly #now: () => number
  /** Per class: requests, cached, warm; since the last batch and since start. */
  readonly #totals: Float64Array
  readonly #lifetime: Float64Array
  #warmSet: ReadonlySet<string> = new Set()
  #since: number
  #windowStart: number

  constructor(options: RequestStatisticsOptions) {
    this.classes = [...options.classes]
    this.#main = new SpaceSaving(options.sketchSize)
    this.#thresholdTag = options.thresholdClass === undefined ? -1 : this.classIndex(options.thresholdClass)
    this.#thresholded = this.#thresholdTag < 0 ? undefined : new SpaceSaving(options.thresholdSketchSize ?? options.sketchSize)
    this.#threshold = Math.max(1, options.threshold ?? 3)
    this.#windowMs = options.thresholdWindowMs ?? 3_600_000
    this.#maxKeyLength = options.maxKeyLength ?? 512
    this.#now = options.now ?? Date.now
    this.#totals = new Float64Array(this.classes.length * FIELDS)
    this.#lifetime = new Float64Array(this.classes.length * FIELDS)
    this.#since = this.#now()
    this.#windowStart = this.#since
  }

  classIndex(name: string): number {
    const index = this.classes.indexOf(name)
    if (index < 0) throw new Error(`unknown request class '${name}'`)
    return index
  }

  /** The keys a warmup keeps warm; record() checks membership. */
  setWarmSet(keys: ReadonlySet<string>): void {
    this.#warmSet = keys
  }

  get warmSetSize(): number {
    return this.#warmSet.size
  }

  /** One successful read (200 or 304) of `key`. */
  record(key: string, classIndex: number, state: CacheState): void {
    const base = classIndex * FIELDS
    const cached = state === 'miss' ? 0 : 1
    const warm = this.#warmSet.has(key) ? 1 : 0
    this.#totals[base]! += 1
    this.#totals[base + 1]! += cached
    this.#totals[base + 2]! += warm
    this.#lifetime[base]! += 1
    this.#lifetime[base + 1]! += cached
    this.#lifetime[base + 2]! += warm
    if (key.length > this.#maxKeyLength) return
    const sketch = classIndex === this.#thresholdTag ? this.#thresholded! : this.#main
    sketch.add(key, classIndex, cached === 0)
  }

  /** Share of the requests since start whose key was in the warm set (undefined before any). */
  warmShare(): number | undefined {
    let requests = 0
    let warm = 0
    for (let index = 0; index < this.classes.length; index += 1) {
      requests += this.#lifetime[index * FIELDS]!
      warm += this.#lifetime[index * FIELDS + 2]!
    }
    return requests === 0 ? undefined : warm / requests
  }

  /**
   * The counts since the last batch, and a fresh start. Thresholded keys are reported (their
   * new occurrences only) once `count - error` reaches the threshold within the window; the
   * rest of that sketch is forgotten when the window ends.
   */
  takeBatch(): StatsBatch {
    const now = this.#now()
    const keys: KeyCount[] = []
    for (const entry of this.#main.entries()) {
      keys.push({ key: entry.key, requestClass: this.classes[entry.tag]!, requests: entry.count, misses: entry.misses })
    }
    this.#main.reset()
    if (this.#thresholded) {
      for (const entry of this.#thresholded.entries()) {
        if (entry.count - entry.error < this.#threshold || entry.count === entry.reported) continue
        // The first report includes the occurrences that reached the threshold.
        keys.push({ key: entry.key, requestClass: this.classes[entry.tag]!, requests: entry.count - entry.reported, misses: entry.misses - entry.reportedMisses })
        entry.reported = entry.count
        entry.reportedMisses = entry.misses
      }
      if (now - this.#windowStart >= this.#windowMs) {
        this.#thresholded.reset()
        this.#windowStart = now
      }
    }
    const classes: ClassCount[] = this.classes.map((requestClass, index) => ({
      requestClass,
      requests: this.#totals[index * FIELDS]!,
      cached: this.#totals[index * FIELDS + 1]!,
      warm: this.#totals[index * FIELDS + 2]!,
    }))
    this.#totals.fill(0)
    const batch = { since: this.#since, keys, classes }
    this.#since = now
    return batch
  }

  /** Memory bound: entries held by the sketches (never more than their capacities). */
  sizes(): { keys: number; capacity: number; thresholdKeys: number; thresholdCapacity: number } {
    return { keys: this.#main.size, capacity: this.#main.capacity, thresholdKeys: this.#thresholded?.size ?? 0, thresholdCapacity: this.#thresholded?.capacity ?? 0 }
  }
}
