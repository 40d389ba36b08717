// How often a key was asked for lately, in fixed memory: a count-min sketch with TinyLFU's
// periodic halving. Four rows of small saturating counters; a key's estimate is the smallest of
// its four counters, so it may overcount (another key shares all four cells) but never
// undercounts. After `window` increments every counter is halved, so old popularity fades and
// "seen N times" means "seen N times within about the last `window` requests".
// Memory: 4 × width bytes, width = the power of two at or above 4 × window (16 to 32 bytes per
// request of the window; 256 kB for the default 10,000): with at least 4 cells per row for each
// recorded request, a one-off key shares all four of its cells with other keys rarely enough
// (about 4e-4 at a full window) to be admitted by mistake.

const ROWS = 4
/** Counters saturate here (TinyLFU's 4-bit counters); admission thresholds are far below. */
const MAX_COUNT = 15

function nextPowerOfTwo(value: number): number {
  let power = 1
  while (power < value) power *= 2
  return power
}

/** FNV-1a over UTF-16 code units: fast, and good enough to spread keys over the rows. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/** A second, independent-enough hash derived from the first (murmur3's finaliser). */
function mix(hash: number): number {
  let value = hash
  value ^= value >>> 16
  value = Math.imul(value, 0x85ebca6b)
  value ^= value >>> 13
  value = Math.imul(value, 0xc2b2ae35)
  value ^= value >>> 16
  return value >>> 0
}

export class FrequencySketch {
  readonly #width: number
  readonly #mask: number
  readonly #counters: Uint8Array
  readonly #window: number
  #additions = 0

  /** `window`: increments between two halvings (at least 16). */
  constructor(window: number) {
    if (!Number.isInteger(window) || window < 16) throw new RangeError(`sketch window must be an integer of at least 16, got ${window}`)
    this.#window = window
    this.#width = nextPowerOfTwo(window * 4)
    this.#mask = this.#width - 1
    this.#counters = new Uint8Array(this.#width * ROWS)
  }

  /** Bytes held by the counters. */
  get bytes(): number {
    return this.#counters.length
  }

  /** Counts one sighting of `key` and returns its estimate including it. */
  increment(key: string): number {
    const first = fnv1a(key)
    const step = mix(first) | 1
    let estimate = MAX_COUNT
    for (let row = 0; row < ROWS; row += 1) {
      const cell = row * this.#width + ((first + row * step) & this.#mask)
      const count = this.#counters[cell]!
      if (count < MAX_COUNT) this.#counters[cell] = count + 1
      estimate = Math.min(estimate, Math.min(MAX_COUNT, count + 1))
    }
    this.#additions += 1
    if (this.#additions >= this.#window) this.#halve()
    return estimate
  }

  /** The estimate for `key` without counting a sighting. */
  estimate(key: string): number {
    const first = fnv1a(key)
    const step = mix(first) | 1
    let estimate = MAX_COUNT
    for (let row = 0; row < ROWS; row += 1) {
      estimate = Math.min(estimate, this.#counters[row * this.#width + ((first + row * step) & this.#mask)]!)
    }
    return estimate
  }

  #halve(): void {
    for (let cell = 0; cell < this.#counters.length; cell += 1) this.#counters[cell] = this.#counters[cell]! >>> 1
    this.#additions = Math.floor(this.#additions / 2)
  }
}
