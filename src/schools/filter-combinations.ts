// Which filter combinations the data has: every set of up to N filters (one code each) that
// matches at least one school of a level, with its count. The warmup derives its list pages from
// this (warm-targets.ts), so it warms what a visitor can reach from the filter menus and nothing
// that would be an empty page. One statement: GROUPING SETS counts every combination in a
// single pass over the level's rows.
import type { Database } from '../db/database.ts'
import { FILTER_FIELDS, type FilterField, type Level } from './model.ts'
import { FILTER_COLUMNS } from './list-query.ts'

export interface FilterCombination {
  /** Field to one code, the shape of a list request's filters. */
  filters: Partial<Record<FilterField, [string]>>
  total: number
}

/** Every subset of `items` with 1..`maxSize` members, smaller ones first, in `items` order. */
function subsets<T>(items: readonly T[], maxSize: number): T[][] {
  const result: T[][] = []
  const extend = (start: number, current: T[]): void => {
    for (let index = start; index < items.length; index += 1) {
      const next = [...current, items[index]!]
      result.push(next)
      if (next.length < maxSize) extend(index + 1, next)
    }
  }
  extend(0, [])
  return result.sort((a, b) => a.length - b.length)
}

export async function filterCombinations(db: Database, level: Level, maxFilters: number): Promise<FilterCombination[]> {
  const fields: readonly FilterField[] = FILTER_FIELDS[level]
  if (maxFilters < 1) return []
  const columns = fields.map((field) => FILTER_COLUMNS[field])
  const sets = subsets(columns, maxFilters).map((set) => `(${set.join(', ')})`)
  // GROUPING() has one bit per column, the first column the highest; a set bit means the
  // column is not part of the row's combination (its NULL is not a code).
  const sql = `
    SELECT GROUPING(${columns.join(', ')})::int AS absent, ${columns.map((column, index) => `${column} AS f${index}`).join(', ')}, count(*)::int AS total
    FROM schools s LEFT JOIN secondary_banding b ON b.school_no = s.school_no
    WHERE s.level = $1
    GROUP BY GROUPING SETS (${sets.join(', ')})
    ORDER BY absent DESC, ${columns.map((_column, index) => `f${index}`).join(', ')}`
  const rows = await db.query<Record<string, string | number | null>>(sql, [level])
  const combinations: FilterCombination[] = []
  for (const row of rows) {
    const absent = Number(row.absent)
    const filters: FilterCombination['filters'] = {}
    let valid = true
    fields.forEach((field, index) => {
      if ((absent >> (fields.length - 1 - index)) & 1) return
      const code = row[`f${index}`]
      if (code === null || code === undefined) valid = false
      else filters[field] = [String(code)]
    })
    if (valid) combinations.push({ filters, total: Number(row.total) })
  }
  return combinations
}
