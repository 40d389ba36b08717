// Every read the school API sends to the database. Items are built as JSON by PostgreSQL itself,
// so a list page or a batch of details is one round trip and one JSON document, whatever its size.
import type { Database } from '../db/database.ts'
import { readGeneration } from './import/generation.ts'
import { readFilterCombinations, readFilterOptions, readStats, type FilterCombination, type SchoolStats } from './facets.ts'
import { ITEM_JSON, labelled, listStatement } from './list-query.ts'
import type { FilterOptions, Level, ListPage, ListQuery } from './model.ts'

export { FILTER_COLUMNS } from './list-query.ts'
export type { SchoolStats } from './facets.ts'

export interface SchoolDetail {
  [key: string]: unknown
}

/** The detail of every school `where` selects (a condition on `s`), keyed by school number. */
function detailStatement(where: string): string {
  return `
    SELECT s.school_no AS "schoolNo", (${ITEM_JSON}::jsonb || jsonb_build_object(
      'fax', s.fax, 'easting', s.easting, 'northing', s.northing,
      'schoolNet', CASE WHEN s.school_net IS NULL THEN NULL ELSE ${labelled('schoolNet', 's.school_net')}::jsonb || jsonb_build_object('areaZh', n.area_zh, 'webpage', n.webpage) END,
      'profile', CASE WHEN p.school_no IS NULL THEN NULL ELSE (to_jsonb(p) - 'school_no' - 'extra') || jsonb_build_object('extra', p.extra) END,
      'applicationWindows', coalesce((
        SELECT jsonb_agg(jsonb_build_object('opensAt', w.opens_at, 'closesAt', w.closes_at, 'openNow', now() >= w.opens_at AND now() < w.closes_at) ORDER BY w.opens_at)
        FROM application_windows w WHERE w.school_no = s.school_no), '[]'::jsonb),
      'sameSchoolRows', coalesce((
        SELECT jsonb_agg(o.school_no ORDER BY o.school_no) FROM schools o WHERE o.school_id = s.school_id AND o.school_no <> s.school_no), '[]'::jsonb)
    )) AS detail
    FROM schools s
    LEFT JOIN secondary_banding b ON b.school_no = s.school_no
    LEFT JOIN school_nets n ON n.net = s.school_net
    LEFT JOIN school_profiles p ON p.school_no = s.school_no
    WHERE ${where} AND s.level IN ('primary', 'secondary')`
}

export class SchoolRepository {
  constructor(private readonly db: Database) {}

  async list(query: ListQuery): Promise<ListPage<unknown>> {
    const { sql, params } = listStatement(query)
    const [row] = await this.db.query<{ total: number; items: unknown[] }>(sql, params)
    const total = row?.total ?? 0
    return { items: row?.items ?? [], page: query.page, pageSize: query.pageSize, total, totalPages: Math.ceil(total / query.pageSize) }
  }

  async detail(schoolNo: string): Promise<SchoolDetail | null> {
    const [row] = await this.db.query<{ detail: SchoolDetail }>(detailStatement('s.school_no = $1'), [schoolNo])
    return row ? camelCaseProfile(row.detail) : null
  }

  /** detail() of many schools in one statement; numbers that match no school are absent. */
  async details(schoolNos: readonly string[]): Promise<Map<string, SchoolDetail>> {
    if (schoolNos.length === 0) return new Map()
    const rows = await this.db.query<{ schoolNo: string; detail: SchoolDetail }>(detailStatement('s.school_no = ANY($1::text[])'), [schoolNos])
    return new Map(rows.map((row) => [row.schoolNo, camelCaseProfile(row.detail)]))
  }

  /** Every school number served, for warming every detail. */
  async allSchoolNos(): Promise<string[]> {
    const rows = await this.db.query<{ schoolNo: string }>(`SELECT school_no AS "schoolNo" FROM schools WHERE level IN ('primary', 'secondary') ORDER BY school_no`)
    return rows.map((row) => row.schoolNo)
  }

  filterOptions(level: Level): Promise<FilterOptions> {
    return readFilterOptions(this.db, level)
  }

  stats(): Promise<SchoolStats> {
    return readStats(this.db)
  }

  /** The data generation committed now (docs/generations.md). */
  dataGeneration(): Promise<number> {
    return readGeneration(this.db)
  }

  /** The next moment (epoch ms) an application window opens or closes, if any: when "open now" answers change. */
  async nextWindowBoundary(): Promise<number | undefined> {
    const [row] = await this.db.query<{ next: Date | string | null }>(`
      SELECT min(t) AS next FROM (SELECT opens_at AS t FROM application_windows UNION ALL SELECT closes_at FROM application_windows) b WHERE t > now()`)
    return row?.next ? new Date(row.next).getTime() : undefined
  }

  /** Every combination of up to `maxFilters` (at most 2) filters that matches schools of `level`, for the warmup. */
  filterCombinations(level: Level, maxFilters: number): Promise<FilterCombination[]> {
    return readFilterCombinations(this.db, level, maxFilters)
  }
}

/** The profile's columns come out of to_jsonb in snake_case; the API speaks camelCase. */
function camelCaseProfile(detail: SchoolDetail): SchoolDetail {
  const profile = detail.profile as Record<string, unknown> | null
  if (!profile) return detail
  const renamed = Object.fromEntries(Object.entries(profile).map(([key, value]) => [key.replace(/_([a-z0-9])/g, (_m, char: string) => char.toUpperCase()), value]))
  return { ...detail, profile: renamed }
}
