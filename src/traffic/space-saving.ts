// Space-Saving (Metwally, Agrawal, El Abbadi 2005): the heavy hitters of a stream in a fixed
// number of counters, whatever the number of distinct items. An item not monitored takes over
// the counter with the smallest count and inherits that count as its `error`, so every item
// whose true count exceeds (stream length / capacity) is guaranteed to be monitored, and
// `count - error` never overstates what was really seen.
//
// The counters sit in a binary min-heap (the array) indexed by a Map: an update is a Map
// lookup and a sift, O(log capacity), and allocates nothing once the sketch is full (evicted
// entries are reused), so it can run on every request.

export interface SketchEntry {
  key: string
  /** A small integer the caller attaches to the key (e.g. its request class). */
  tag: number
  /** Upper bound of the key's occurrences since it was (re)admitted or the sketch was reset. */
  count: number
  /** How much of `count` may belong to the keys evicted before it; `count - error` is a lower bound. */
  error: number
  /** Occurrences counted as misses (a per-key side count, with the same upper-bound semantics). */
  misses: number
  /** Parts of `count` and `misses` already reported by the caller (see RequestStatistics' thresholded sketch). */
  reported: number
  reportedMisses: number
  heapIndex: number
}

export class SpaceSaving {
  readonly #heap: SketchEntry[] = []
  readonly #index = new Map<string, SketchEntry>()

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`sketch capacity must be a positive integer, got ${capacity}`)
  }

  get size(): number {
    return this.#heap.length
  }

  /** Counts one occurrence of `key`; `miss` also counts it in the entry's misses. */
  add(key: string, tag: number, miss: boolean): void {
    let entry = this.#index.get(key)
    if (entry === undefined) {
      if (this.#heap.length < this.capacity) {
        entry = { key, tag, count: 0, error: 0, misses: 0, reported: 0, reportedMisses: 0, heapIndex: this.#heap.length }
        this.#heap.push(entry)
        this.#index.set(key, entry)
      } else {
        // Evict the minimum: the newcomer inherits its count as error (the Space-Saving step).
        entry = this.#heap[0]!
        this.#index.delete(entry.key)
        entry.error = entry.count
        entry.key = key
        entry.tag = tag
        entry.misses = 0
        entry.reported = 0
        entry.reportedMisses = 0
        this.#index.set(key, entry)
      }
    }
    entry.count += 1
    if (miss) entry.misses += 1
    this.#siftDown(entry.heapIndex)
  }

  get(key: string): SketchEntry | undefined {
    return this.#index.get(key)
  }

  /** The monitored entries (live objects: read them before the next add or reset). */
  entries(): readonly SketchEntry[] {
    return this.#heap
  }

  reset(): void {
    this.#heap.length = 0
    this.#index.clear()
  }

  /** A count only grows, so an entry can only move down (towards the leaves). */
  #siftDown(index: number): void {
    const heap = this.#heap
    const entry = heap[index]!
    for (;;) {
      const left = 2 * index + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && heap[right]!.count < heap[left]!.count ? right : left
      if (heap[child]!.count >= entry.count) break
      heap[index] = heap[child]!
      heap[index]!.heapIndex = index
      index = child
    }
    heap[index] = entry
    entry.heapIndex = index
  }
}
