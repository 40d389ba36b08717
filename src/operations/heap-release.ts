// Handing back the memory a warmup used (README, "Memory and the boot with workers"); both need
// node's --expose-gc (the start script passes it) and do nothing without it.
// 1. During a run: its working Buffers die in V8's old generation, where no limit of V8's makes
//    it collect them, and glibc keeps their pages (RSS +20 MB after the boot warmup). A full
//    collection runs once the Buffer bytes read after a scavenge are 8 MB over those after the
//    last full one. After scavenges, not on a timer: request churn (freed by scavenges) must
//    not look like garbage, and during runs only: the observer costs a Redis-only hit CPU.
// 2. After a run that made garbage (the watch collected during it, or V8's heap grew by 8 MB):
//    two full collections shrink V8's heap back from the run's peak (the first frees the
//    garbage, the second the pages it emptied). A run that only renewed values makes next to
//    none, and the two collections would pause serving 30-40 ms for nothing.
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'

const SETTLE_MS = 200
const MB = 1024 * 1024
const BUFFER_GROWTH_BYTES = 8 * MB
/** Growth of V8's heap over a run that makes the collections after it worth their pause. */
const HEAP_GROWTH_BYTES = 8 * MB
/** At most one collection of ours per this much time, whatever the readings say. */
const MIN_COLLECTION_GAP_MS = 1000

type Collect = () => void

function exposedGc(): Collect | undefined {
  return (globalThis as { gc?: Collect }).gc
}

export interface BufferGarbagePolicyOptions {
  growthBytes?: number
  minGapMs?: number
}

export interface BufferGarbageWatchOptions extends BufferGarbagePolicyOptions {
  /** Heap growth over a run after which finish() collects; default 8 MB. */
  heapGrowthBytes?: number
}

/**
 * When to collect: fed the Buffer bytes read after each collection V8 makes, it answers, after a
 * scavenge, whether the bytes that survived it have grown past the threshold since the last full
 * collection (and the last collection of ours is not too recent).
 */
export class BufferGarbagePolicy {
  readonly #growthBytes: number
  readonly #minGapMs: number
  #afterFullCollection: number
  #lastCollectedAt = Number.NEGATIVE_INFINITY

  constructor(initialBytes: number, options: BufferGarbagePolicyOptions = {}) {
    this.#afterFullCollection = initialBytes
    this.#growthBytes = options.growthBytes ?? BUFFER_GROWTH_BYTES
    this.#minGapMs = options.minGapMs ?? MIN_COLLECTION_GAP_MS
  }

  fullCollection(bytes: number): void {
    this.#afterFullCollection = bytes
  }

  /** After a scavenge: true when a full collection should run now (it is then counted as run at `nowMs`). */
  shouldCollectAfterScavenge(bytes: number, nowMs: number): boolean {
    if (bytes - this.#afterFullCollection <= this.#growthBytes) return false
    if (nowMs - this.#lastCollectedAt < this.#minGapMs) return false
    this.#lastCollectedAt = nowMs
    return true
  }
}

/**
 * While started, watches V8's collections and runs a full one when dead Buffers pile up in the
 * old generation (see the top of this file); finish() ends the watch and collects what the run
 * left, if it made garbage. Started for the length of a warmup run only: the observer and its
 * readings cost about a fifth of a Redis-only hit's CPU when always on, and outside warmups
 * requests make garbage that scavenges free. Does nothing without a gc().
 */
export class BufferGarbageWatch {
  readonly #collect: Collect | undefined
  readonly #options: BufferGarbageWatchOptions
  #observer: PerformanceObserver | undefined
  /** Collections this watch ran since start(), and V8's heap size then. */
  #collected = 0
  #heapAtStart = 0

  constructor(collect: Collect | undefined = exposedGc(), options: BufferGarbageWatchOptions = {}) {
    this.#collect = collect
    this.#options = options
  }

  get watching(): boolean {
    return this.#observer !== undefined
  }

  start(): void {
    const collect = this.#collect
    if (!collect || this.#observer) return
    this.#collected = 0
    this.#heapAtStart = getHeapStatistics().total_heap_size
    const bufferBytes = (): number => process.memoryUsage().arrayBuffers
    const policy = new BufferGarbagePolicy(bufferBytes(), this.#options)
    this.#observer = new PerformanceObserver((list) => {
      const kinds = list.getEntries().map((entry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind)
      if (kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR)) policy.fullCollection(bufferBytes())
      else if (kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR) && policy.shouldCollectAfterScavenge(bufferBytes(), performance.now())) {
        collect()
        this.#collected += 1
        policy.fullCollection(bufferBytes())
      }
    })
    this.#observer.observe({ entryTypes: ['gc'] })
  }

  /**
   * Stops watching. When the run made garbage (this watch collected during it, or V8's heap grew
   * by `heapGrowthBytes`), two full collections run a moment later, once the run's last callbacks
   * have let go of it. True when they were scheduled.
   */
  finish(): boolean {
    const collect = this.#collect
    if (!collect || !this.#observer) return false
    this.#observer.disconnect()
    this.#observer = undefined
    const grown = getHeapStatistics().total_heap_size - this.#heapAtStart
    if (this.#collected === 0 && grown < (this.#options.heapGrowthBytes ?? HEAP_GROWTH_BYTES)) return false
    setTimeout(() => {
      collect()
      collect()
    }, SETTLE_MS).unref()
    return true
  }
}
