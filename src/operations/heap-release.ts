// Two ways the process hands back memory that a warmup used and no longer needs (README,
// "Memory and the boot with workers"). Both need node's --expose-gc (package.json's start
// script passes it); without it they do nothing.
//
// 1. Dead Buffers that reached V8's old generation. A warmup's working Buffers (JSON bytes,
//    compressed outputs, the full entry written to Redis) outlive a couple of scavenges across
//    their awaits, so they die in the old generation, and V8 runs no full collection for them:
//    their bytes count towards none of its heap limits until external memory passes 64 MB.
//    Over a boot warmup the process's ArrayBuffer bytes grew from 1 to 41 MB while 11 MB was
//    live, and glibc kept the pages the dead ones took (its heap stayed at 44 MB). So after
//    each scavenge (which frees the young ones) the Buffer bytes are read, and a full
//    collection runs once they are 8 MB over the reading after the last full one: two or three
//    per boot warmup, 25-55 ms each, and glibc's heap stayed at 23 MB (RSS after the boot warmup
//    160 -> 140 MB). Reading after scavenges, not on a timer, matters: a server without L1
//    allocates a 30 KB Buffer per request that a scavenge frees, and a timer saw that churn as
//    garbage and collected ten times a second (Redis-only hits cost twice the CPU). The watch
//    runs only while a warmup does.
// 2. After a warmup run: two full collections 200 ms later shrink V8's own heap back from
//    the warmup's peak (the first frees the garbage, the second the pages it emptied).
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks'

const SETTLE_MS = 200
const BUFFER_GROWTH_BYTES = 8 * 1024 * 1024
/** At most one collection of ours per this much time, whatever the readings say. */
const MIN_COLLECTION_GAP_MS = 1000

type Collect = () => void

function exposedGc(): Collect | undefined {
  return (globalThis as { gc?: Collect }).gc
}

/** Collects the garbage a finished warmup left, once its last callbacks have let go of it. */
export function releaseWarmupGarbage(): void {
  const gc = exposedGc()
  if (!gc) return
  setTimeout(() => {
    gc()
    gc()
  }, SETTLE_MS).unref()
}

export interface BufferGarbagePolicyOptions {
  growthBytes?: number
  minGapMs?: number
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
 * old generation (see the top of this file). Started for the length of a warmup run only: the
 * observer and its readings cost about a fifth of a Redis-only hit's CPU when always on, and
 * outside warmups requests make garbage that scavenges free. Does nothing without a gc().
 */
export class BufferGarbageWatch {
  readonly #collect: Collect | undefined
  readonly #policyOptions: BufferGarbagePolicyOptions
  #observer: PerformanceObserver | undefined

  constructor(collect: Collect | undefined = exposedGc(), policyOptions: BufferGarbagePolicyOptions = {}) {
    this.#collect = collect
    this.#policyOptions = policyOptions
  }

  get watching(): boolean {
    return this.#observer !== undefined
  }

  start(): void {
    const collect = this.#collect
    if (!collect || this.#observer) return
    const bufferBytes = (): number => process.memoryUsage().arrayBuffers
    const policy = new BufferGarbagePolicy(bufferBytes(), this.#policyOptions)
    this.#observer = new PerformanceObserver((list) => {
      const kinds = list.getEntries().map((entry) => (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind)
      if (kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR)) policy.fullCollection(bufferBytes())
      else if (kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR) && policy.shouldCollectAfterScavenge(bufferBytes(), performance.now())) {
        collect()
        policy.fullCollection(bufferBytes())
      }
    })
    this.#observer.observe({ entryTypes: ['gc'] })
  }

  stop(): void {
    this.#observer?.disconnect()
    this.#observer = undefined
  }
}
