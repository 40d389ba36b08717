// Why phase 2 of `--replay learned` still misses: every phase-2 key that missed (or was served
// stale, which reloads it in the background: a database query too) is put down to one cause,
// from what phase 1 asked, what the statistics stored, what the learned set chose or dropped,
// and what the boot warmup warmed. The first miss of a key and its repeats are counted apart:
// a repeat means the key left the cache during phase 2 (probation expiry, admission, TTL).
import type { Runtime } from '../src/runtime.ts'
import { LEARNED_GROUP } from '../src/schools/learned-targets.ts'

export type MissCause =
  | 'not requested in phase 1'
  | 'search below the threshold in phase 1'
  | 'counted, not stored (sketch / keys per hour)'
  | 'stored, not in the learned set'
  | 'learned, dropped'
  | 'warmed at boot (derived set)'
  | 'warmed at boot (learned)'

export const MISS_CAUSES: readonly MissCause[] = [
  'not requested in phase 1',
  'search below the threshold in phase 1',
  'counted, not stored (sketch / keys per hour)',
  'stored, not in the learned set',
  'learned, dropped',
  'warmed at boot (derived set)',
  'warmed at boot (learned)',
]

export interface KeyTally {
  requests: number
  misses: number
  stale: number
}

export interface MissCauseRow {
  cause: MissCause
  /** Keys with at least one miss. */
  keys: number
  /** First misses (one per key) and misses after the key's first one. */
  firstMisses: number
  repeatMisses: number
  /** Stale answers (each reloads the key in the background) of any key put down to this cause. */
  stale: number
  /** A few of its keys with their phase-1 / phase-2 requests, for the report. */
  examples: string[]
}

/** What phase 2 started with: the statistics, the learned set and the boot warmup's other keys. */
export interface WarmKnowledge {
  stored: ReadonlyMap<string, number>
  learned: ReadonlyMap<string, { state: 'warm' | 'dropped'; reason: string | null }>
  derived: ReadonlySet<string>
}

export async function warmKnowledge(runtime: Runtime): Promise<WarmKnowledge> {
  const { store } = runtime.learning
  const stored = new Map((await store.topKeys(24 * 366, 10_000_000)).map((row) => [row.key, row.requests]))
  const learned = new Map((await store.learned()).map((row) => [row.key, { state: row.state, reason: row.reason }]))
  const derived = new Set<string>()
  const groups = runtime.registry.resolveGroups(['all']).filter((group) => group !== LEARNED_GROUP)
  for (const target of runtime.registry.targetsFor(groups)) for (const warmKey of await target.keys()) derived.add(warmKey.key)
  return { stored, learned, derived }
}

function causeOf(key: string, search: boolean, phase1Requests: number, knowledge: WarmKnowledge): MissCause {
  if (knowledge.derived.has(key)) return 'warmed at boot (derived set)'
  const learned = knowledge.learned.get(key)
  if (learned?.state === 'warm') return 'warmed at boot (learned)'
  if (learned?.state === 'dropped') return 'learned, dropped'
  if (knowledge.stored.has(key)) return 'stored, not in the learned set'
  if (phase1Requests === 0) return 'not requested in phase 1'
  return search ? 'search below the threshold in phase 1' : 'counted, not stored (sketch / keys per hour)'
}

const EXAMPLES = 3

export function missCauses(tallies: ReadonlyMap<string, KeyTally>, items: readonly { key: string; search: boolean }[], phase1Counts: ReadonlyMap<string, number>, knowledge: WarmKnowledge): MissCauseRow[] {
  const rows = new Map<MissCause, MissCauseRow>(MISS_CAUSES.map((cause) => [cause, { cause, keys: 0, firstMisses: 0, repeatMisses: 0, stale: 0, examples: [] }]))
  const search = new Map(items.map((item) => [item.key, item.search]))
  for (const [key, tally] of tallies) {
    if (tally.misses === 0 && tally.stale === 0) continue
    const phase1 = phase1Counts.get(key) ?? 0
    const row = rows.get(causeOf(key, search.get(key) ?? false, phase1, knowledge))!
    row.stale += tally.stale
    if (tally.misses === 0) continue
    row.keys += 1
    row.firstMisses += 1
    row.repeatMisses += tally.misses - 1
    if (row.examples.length < EXAMPLES) row.examples.push(`${key} (${phase1}/${tally.requests})`)
  }
  return [...rows.values()].filter((row) => row.keys > 0 || row.stale > 0)
}

export function renderMissCauses(off: readonly MissCauseRow[], on: readonly MissCauseRow[]): string[] {
  const causes = MISS_CAUSES.filter((cause) => off.some((row) => row.cause === cause) || on.some((row) => row.cause === cause))
  const cell = (rows: readonly MissCauseRow[], cause: MissCause): string => {
    const row = rows.find((candidate) => candidate.cause === cause)
    return row ? `${row.keys} / ${row.firstMisses + row.repeatMisses} (${row.repeatMisses}) / ${row.stale}` : '-'
  }
  const examples = on.filter((row) => row.examples.length > 0).map((row) => `- ${row.cause}: ${row.examples.join(', ')}`)
  return [
    '| phase-2 misses by cause: keys / misses (of which repeats) / stale answers | learning off | learning on |',
    '|---|---|---|',
    ...causes.map((cause) => `| ${cause} | ${cell(off, cause)} | ${cell(on, cause)} |`),
    '',
    'Examples with learning on (key (phase-1 requests / phase-2 requests)):',
    '',
    ...examples,
  ]
}
