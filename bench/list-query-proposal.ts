// A proposed shape for SchoolRepository.list, measured against the current one on the same
// cold sample (--scale shows why). Today the query materialises every matching row, all
// columns, in a CTE that both the count and the page read, so a cold list costs a full scan
// and a temp-file spill of the level's rows, whatever the page. The proposal pages by index
// order (the existing (level, ..., name_en, school_no) indexes, LIMIT/OFFSET) and joins the
// page's 20 rows back for their JSON, and counts separately; with a narrow covering index the
// count is an index-only scan. Both statements are derived from the repository's own SQL (its
// WHERE clause and item JSON, taken from the statement it sends), and every result is checked
// byte for byte against the repository's, so the comparison cannot drift from the real query.
import type { Database } from '../src/db/database.ts'
import { SchoolRepository } from '../src/schools/repository.ts'
import { explain, recording, toQuery } from './cold-lists.ts'
import { listUrl, type ListSpec } from './query-space.ts'
import { percentileOfSorted } from './stats.ts'

export const PROPOSED_COUNT_INDEX = 'CREATE INDEX IF NOT EXISTS schools_level_filters ON schools (level) INCLUDE (district, category, school_group, gender, religion, session, school_net)'

export interface Timing {
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export interface ListQueryProposal {
  samples: number
  /** Every sampled query gave the same total and items (as JSON) both ways. */
  identical: boolean
  mismatches: string[]
  current: Timing
  proposed: Timing
  proposedWithCountIndex: Timing
  explain: { url: string; plan: string }[]
}

interface Statement {
  sql: string
  params: readonly unknown[]
}

/** The proposed statement, built from the pieces of the repository's current one. */
export function proposedStatement(current: Statement): Statement | undefined {
  const where = /WHERE ([\s\S]*?)\n\s*\), page AS \(/.exec(current.sql)?.[1]
  const item = /page AS \(\s*SELECT ([\s\S]*?) AS item, s\.name_en, s\.school_no FROM filtered s/.exec(current.sql)?.[1]
  if (where === undefined || item === undefined) return undefined
  const limit = current.params.length - 1
  const from = 'FROM schools s LEFT JOIN secondary_banding b ON b.school_no = s.school_no'
  const sql = `
    WITH page AS (
      SELECT s.school_no ${from} WHERE ${where}
      ORDER BY s.name_en COLLATE "C", s.school_no LIMIT $${limit} OFFSET $${limit + 1}
    )
    SELECT (SELECT count(*) ${from} WHERE ${where})::int AS total,
      (SELECT coalesce(json_agg(${item} ORDER BY s.name_en COLLATE "C", s.school_no), '[]'::json)
       FROM page JOIN (SELECT s.*, b.band ${from}) s ON s.school_no = page.school_no) AS items`
  return { sql, params: current.params }
}

function timing(values: number[]): Timing {
  const sorted = [...values].sort((a, b) => a - b)
  return { p50Ms: percentileOfSorted(sorted, 0.5), p99Ms: percentileOfSorted(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? Number.NaN }
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now()
  const value = await run()
  return { ms: performance.now() - started, value }
}

/**
 * Times the current and the proposed statement on `sample`, alternating so drift hits both;
 * then creates the proposed count index in `db`'s schema (the bench's own) and times again.
 */
export async function measureListQueryProposal(db: Database, sample: ListSpec[]): Promise<ListQueryProposal | undefined> {
  const { db: recorded, last } = recording(db)
  const repository = new SchoolRepository(recorded)
  const statements: { spec: ListSpec; current: Statement; proposed: Statement; expected: string }[] = []
  // The unfiltered first page is the one every visitor sees first: always part of the sample.
  const unfilteredSpec: ListSpec = { level: 'primary', filters: [], page: 1, total: 0 }
  const specs = sample.some((spec) => spec.filters.length === 0 && spec.page === 1) ? sample : [unfilteredSpec, ...sample]
  for (const spec of specs) {
    const page = await repository.list(toQuery(spec))
    const current = last()!
    const proposed = proposedStatement(current)
    if (!proposed) return undefined
    statements.push({ spec, current, proposed, expected: JSON.stringify({ total: page.total, items: page.items }) })
  }

  const mismatches: string[] = []
  const currentMs: number[] = []
  const proposedMs: number[] = []
  for (const { spec, current, proposed, expected } of statements) {
    currentMs.push((await timed(() => db.query(current.sql, current.params))).ms)
    const { ms, value: [row] } = await timed(() => db.query<{ total: number; items: unknown[] }>(proposed.sql, proposed.params))
    proposedMs.push(ms)
    if (JSON.stringify({ total: row?.total, items: row?.items }) !== expected && mismatches.length < 5) mismatches.push(listUrl(spec))
  }

  await db.query(PROPOSED_COUNT_INDEX)
  await db.query('VACUUM ANALYZE schools')
  const indexedMs: number[] = []
  for (const { proposed } of statements) indexedMs.push((await timed(() => db.query(proposed.sql, proposed.params))).ms)

  const unfiltered = statements.find(({ spec }) => spec.filters.length === 0 && spec.page === 1)
  const slowest = statements[indexedMs.indexOf(Math.max(...indexedMs))]
  const plans: { url: string; plan: string }[] = []
  for (const entry of new Set([unfiltered, slowest])) {
    if (entry) plans.push({ url: `${listUrl(entry.spec)} (proposed, with the count index)`, plan: await explain(db, entry.proposed) })
  }
  return {
    samples: statements.length,
    identical: mismatches.length === 0,
    mismatches,
    current: timing(currentMs),
    proposed: timing(proposedMs),
    proposedWithCountIndex: timing(indexedMs),
    explain: plans,
  }
}
