// Which keys may enter the shared tier (L1 + Redis) and stay there. Anything else is served
// from the small local probation store (see response-cache.ts), so no client can fill Redis or
// push the warm set out of memory by asking for many distinct valid queries once each.
//
// A key is admitted when:
// - a warmup wrote it (refresh()): the warm set, which clients cannot grow;
// - it already has a value in the shared tier (written by this or another instance); or
// - it was asked for at least `minHits` times within the sketch's window (TinyLFU's frequency
//   sketch, frequency-sketch.ts) and there is room for it among this instance's frequency-admitted
//   keys, or it is asked for more often than the least recently used of them, which it replaces.
// Frequency-admitted keys are bounded per instance by count and bytes; one pushed out is
// deleted from the shared tier (`onEvict`), so Redis holds at most the warm set plus, per
// instance, `maxKeys` keys / `maxBytes` bytes of them.
import { LRUCache } from 'lru-cache'
import { FrequencySketch } from './frequency-sketch.ts'

export interface AdmissionOptions {
  /** Requests within the window before a key is admitted (2 = admitted on its second request). */
  minHits: number
  /** Requests (that missed L1) after which the sketch halves its counts. */
  window: number
  /** Frequency-admitted keys this instance keeps in the shared tier at once. */
  maxKeys: number
  /** Their total size as stored in Redis (UTF-8 body plus header). */
  maxBytes: number
}

export interface AdmissionCounts {
  warmKeys: number
  admittedKeys: number
  admittedBytes: number
  /** Loads kept out of the shared tier since start. */
  probationLoads: number
  /** Frequency-admitted keys pushed out (and deleted from the shared tier) since start. */
  evictions: number
}

/** Keys remembered as warm; far above any warm set, bounded so a bug cannot grow it without end. */
const WARM_KEYS_MAX = 200_000

/**
 * A Set of at most `max` keys that forgets the least recently added one. Not an LRUCache: that
 * allocates its slots for `max` entries up front (5.9 MB of heap for 200,000, measured in a heap
 * snapshot), where a warm set holds a few thousand keys.
 */
class RecentKeys {
  readonly #keys = new Set<string>()
  constructor(private readonly max: number) {}

  add(key: string): void {
    this.#keys.delete(key)
    this.#keys.add(key)
    if (this.#keys.size > this.max) this.#keys.delete(this.#keys.values().next().value!)
  }

  has(key: string): boolean {
    return this.#keys.has(key)
  }

  delete(key: string): void {
    this.#keys.delete(key)
  }

  clear(): void {
    this.#keys.clear()
  }

  get size(): number {
    return this.#keys.size
  }
}

export class SharedTierAdmission {
  readonly #options: AdmissionOptions
  readonly #sketch: FrequencySketch
  readonly #warm = new RecentKeys(WARM_KEYS_MAX)
  readonly #admitted: LRUCache<string, number>
  #probationLoads = 0
  #evictions = 0

  constructor(options: AdmissionOptions, onEvict: (key: string) => void) {
    if (!Number.isInteger(options.minHits) || options.minHits < 1) throw new RangeError('admission minHits must be a positive integer')
    this.#options = options
    this.#sketch = new FrequencySketch(options.window)
    this.#admitted = new LRUCache({
      max: options.maxKeys,
      maxSize: options.maxBytes,
      sizeCalculation: (bytes) => Math.max(1, bytes),
      dispose: (_bytes, key, reason) => {
        if (reason !== 'evict') return
        this.#evictions += 1
        onEvict(key)
      },
    })
  }

  /** Counts a request for `key` (one that L1 did not answer) and returns its recent frequency. */
  seen(key: string): number {
    return this.#sketch.increment(key)
  }

  /** Whether `key`, asked for `frequency` times lately, may be stored in the shared tier. */
  admits(key: string, frequency: number): boolean {
    if (this.#warm.has(key) || this.#admitted.has(key)) return true
    if (frequency < this.#options.minHits) return false
    const full = this.#admitted.size >= this.#options.maxKeys || this.#admitted.calculatedSize >= this.#options.maxBytes
    if (!full) return true
    // TinyLFU: a newcomer replaces the least recently used admitted key only if it is asked for more.
    const victim = this.#admitted.rkeys().next()
    return victim.done === true || frequency > this.#sketch.estimate(victim.value)
  }

  isWarm(key: string): boolean {
    return this.#warm.has(key)
  }

  /** A warmup wrote `key`: it stays admitted and is no longer counted against the frequency budget. */
  markWarm(key: string): void {
    this.#warm.add(key)
    this.#admitted.delete(key)
  }

  /**
   * A request loaded `key` into the shared tier (it had no value there). Returns false when it
   * cannot be kept (larger than the whole budget): the caller keeps it in probation instead.
   */
  admitLoaded(key: string, bytes: number): boolean {
    if (this.#warm.has(key)) return true
    if (bytes > this.#options.maxBytes) return false
    this.#admitted.set(key, bytes)
    return this.#admitted.has(key)
  }

  /** A load kept in the local probation store (for the counts). */
  probationLoad(): void {
    this.#probationLoads += 1
  }

  /** `key` was deleted from the cache: forget it (no eviction callback). */
  forget(key: string): void {
    this.#warm.delete(key)
    this.#admitted.delete(key)
  }

  forgetAll(): void {
    this.#warm.clear()
    this.#admitted.clear()
  }

  counts(): AdmissionCounts {
    return {
      warmKeys: this.#warm.size,
      admittedKeys: this.#admitted.size,
      admittedBytes: this.#admitted.calculatedSize,
      probationLoads: this.#probationLoads,
      evictions: this.#evictions,
    }
  }
}
