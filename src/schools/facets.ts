// Filter options and stats, read from the counts precomputed in school_facets (migration 005)
// instead of a GROUP BY over every row per call. The counts are refreshed by every writer of the
// rows they derive from, in its own transaction, so a reader never sees rows and counts disagree.
import type { Queryable } from '../db/database.ts'
import { FILTER_FIELDS, type FilterField, type FilterOption, type FilterOptions, type Level } from './model.ts'

/**
 * Recomputes school_facets from schools, school_nets and secondary_banding. Call it inside the
 * transaction of any write to those tables; the list totals read it too.
 */
export async function refreshFacets(tx: Queryable): Promise<void> {
  await tx.query('SELECT refresh_school_facets()')
}

export interface SchoolStats {
  totals: { primary: number; secondary: number; all: number }
  byDistrict: (FilterOption & { primary: number; secondary: number })[]
  byCategory: (FilterOption & { primary: number; secondary: number })[]
  applicationWindowsOpen: number
  asOf: string
}

export async function readFilterOptions(db: Queryable, level: Level): Promise<FilterOptions> {
  const fields: readonly string[] = FILTER_FIELDS[level]
  const rows = await db.query<{ field: string; code: string; en: string; zh: string; count: number }>(
    `SELECT field, code, en, zh, count FROM school_facets WHERE level = $1 AND field = ANY($2::text[]) ORDER BY field, code COLLATE "C"`,
    [level, [...fields, '_total']],
  )
  const filters: Record<string, FilterOption[]> = Object.fromEntries(fields.map((field) => [field, [] as FilterOption[]]))
  let total = 0
  for (const row of rows) {
    if (row.field === '_total') total = row.count
    else filters[row.field]!.push({ code: row.code, en: row.en, zh: row.zh, count: row.count })
  }
  // Numeric-aware, so school nets read 11, 12 ... 91 and bands 1, 1a ... 3c.
  for (const options of Object.values(filters)) options.sort((a, b) => a.code.localeCompare(b.code, 'en', { numeric: true }))
  return { level, total, filters }
}

export async function readStats(db: Queryable): Promise<SchoolStats> {
  // Open windows depend on now(), so they are counted live (the table is small and indexed).
  const sql = `
    SELECT field, code, min(en) AS en, min(zh) AS zh,
      coalesce(sum(count) FILTER (WHERE level = 'primary'), 0)::int AS primary,
      coalesce(sum(count) FILTER (WHERE level = 'secondary'), 0)::int AS secondary,
      (SELECT count(DISTINCT school_no)::int FROM application_windows WHERE now() >= opens_at AND now() < closes_at) AS open_now,
      now() AS as_of
    FROM school_facets WHERE level IN ('primary', 'secondary') AND field IN ('district', 'category')
    GROUP BY field, code ORDER BY field, code`
  const rows = await db.query<{ field: string; code: string; en: string; zh: string; primary: number; secondary: number; open_now: number; as_of: Date }>(sql)
  const pick = (field: string): SchoolStats['byDistrict'] =>
    rows.filter((row) => row.field === field).map((row) => ({ code: row.code, en: row.en, zh: row.zh, count: row.primary + row.secondary, primary: row.primary, secondary: row.secondary }))
  const byDistrict = pick('district')
  const primary = byDistrict.reduce((sum, row) => sum + row.primary, 0)
  const secondary = byDistrict.reduce((sum, row) => sum + row.secondary, 0)
  return {
    totals: { primary, secondary, all: primary + secondary },
    byDistrict,
    byCategory: pick('category'),
    applicationWindowsOpen: rows[0]?.open_now ?? 0,
    asOf: new Date(rows[0]?.as_of ?? Date.now()).toISOString(),
  }
}

export interface FilterCombination {
  /** Field to one code, the shape of a list request's filters. */
  filters: Partial<Record<FilterField, [string]>>
  total: number
}

/**
 * Every combination of one or two filters (one code each) that matches schools of `level`, with
 * its count, read from the precomputed counts: what a visitor can reach from the filter menus,
 * and never an empty page. Single filters first.
 */
export async function readFilterCombinations(db: Queryable, level: Level, maxFilters: number): Promise<FilterCombination[]> {
  if (maxFilters < 1) return []
  const fields: readonly string[] = FILTER_FIELDS[level]
  const rows = await db.query<{ field_a: FilterField; code_a: string; field_b: FilterField | null; code_b: string | null; count: number }>(
    `SELECT field AS field_a, code AS code_a, NULL AS field_b, NULL AS code_b, count, 1 AS size FROM school_facets WHERE level = $1 AND field = ANY($2::text[])
     ${maxFilters >= 2 ? 'UNION ALL SELECT field_a, code_a, field_b, code_b, count, 2 FROM school_facet_pairs WHERE level = $1 AND field_a = ANY($2::text[]) AND field_b = ANY($2::text[])' : ''}
     ORDER BY size, field_a, code_a, field_b, code_b`,
    [level, fields],
  )
  return rows.map((row) => ({
    filters: { [row.field_a]: [row.code_a], ...(row.field_b !== null ? { [row.field_b]: [row.code_b!] } : {}) },
    total: row.count,
  }))
}
