// A seeded PRNG and a Zipf sampler, so a replay is the same request sequence on every run.

/** mulberry32: small, fast, and good enough to draw benchmark requests. Returns [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Fisher-Yates with the given PRNG; returns a new array. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1))
    ;[copy[i], copy[j]] = [copy[j]!, copy[i]!]
  }
  return copy
}

/** Draws ranks 0..n-1 with P(rank k) proportional to 1 / (k + 1)^exponent. */
export function zipfSampler(n: number, exponent: number, random: () => number): () => number {
  const cumulative = new Float64Array(n)
  let sum = 0
  for (let k = 0; k < n; k += 1) {
    sum += 1 / (k + 1) ** exponent
    cumulative[k] = sum
  }
  return () => {
    const target = random() * sum
    let low = 0
    let high = n - 1
    while (low < high) {
      const middle = (low + high) >>> 1
      if (cumulative[middle]! < target) low = middle + 1
      else high = middle
    }
    return low
  }
}
