// Which learned keys to warm: the most requested keys that, added to what is warm already,
// cover a target share of the recent requests, at most `maxKeys` of them, each asked for at least
// `minRequests` times. Pinned keys always come first; excluded keys never come. Pure, so the
// warm target and the coverage report compute the same answer.
import type { KeyTotal } from './stats-store.ts'

export interface LearnedSelectionOptions {
  /** Target share of all requests in the window (0..1). */
  coverage: number
  maxKeys: number
  /** Requests a key needs to be chosen (pinned keys need none); default 1. */
  minRequests?: number
  /** Keys the other warm targets keep warm already (they count towards the coverage, not towards maxKeys). */
  alreadyWarm: (key: string) => boolean
  pinned?: readonly string[]
  excluded?: (key: string) => boolean
}

export interface LearnedSelection {
  keys: KeyTotal[]
  /** Requests in the window (every key, counted or not). */
  total: number
  /** Share of `total` whose key would be warm with this selection (lower bound). */
  coveredShare: number
}

/** `candidates` most requested first; `total` is every request of the window. */
export function selectLearned(candidates: readonly KeyTotal[], total: number, options: LearnedSelectionOptions): LearnedSelection {
  const excluded = options.excluded ?? (() => false)
  const chosen: KeyTotal[] = []
  const seen = new Set<string>()
  let covered = 0
  for (const candidate of candidates) {
    if (options.alreadyWarm(candidate.key)) covered += candidate.requests
  }
  const byKey = new Map(candidates.map((candidate) => [candidate.key, candidate]))
  for (const key of options.pinned ?? []) {
    if (seen.has(key) || excluded(key) || chosen.length >= options.maxKeys) continue
    seen.add(key)
    const known = byKey.get(key)
    chosen.push(known ?? { key, requestClass: '', requests: 0, misses: 0 })
    if (known && !options.alreadyWarm(key)) covered += known.requests
  }
  const target = options.coverage * total
  for (const candidate of candidates) {
    if (covered >= target || chosen.length >= options.maxKeys) break
    if (candidate.requests < (options.minRequests ?? 1)) continue
    if (seen.has(candidate.key) || excluded(candidate.key) || options.alreadyWarm(candidate.key)) continue
    seen.add(candidate.key)
    chosen.push(candidate)
    covered += candidate.requests
  }
  return { keys: chosen, total, coveredShare: total === 0 ? 0 : Math.min(1, covered / total) }
}

/** Exact keys, or prefixes ending in '*'. */
export function keyMatcher(patterns: readonly string[]): (key: string) => boolean {
  const exact = new Set(patterns.filter((pattern) => !pattern.endsWith('*')))
  const prefixes = patterns.filter((pattern) => pattern.endsWith('*')).map((pattern) => pattern.slice(0, -1))
  return (key) => exact.has(key) || prefixes.some((prefix) => key.startsWith(prefix))
}
