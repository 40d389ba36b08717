// Every SQL statement the school API runs. Items are built as JSON by PostgreSQL itself, so a
// list page is one round trip and one JSON document, whatever its size.
import type { Database } from '../db/database.ts'
import { bandLabel } from './codes.ts'
import { FILTER_FIELDS, type FilterField, type FilterOption, type FilterOptions, type Level, type ListPage, type ListQuery } from './model.ts'

const labelled = (column: string): string => `json_build_object('code', s.${column}, 'en', s.${column}_en, 'zh', s.${column}_zh)`

// The fields of a list item; the detail adds more.
const ITEM_JSON = `json_build_object(
  'schoolNo', s.school_no, 'schoolId', s.school_id, 'level', s.level,
  'nameEn', s.name_en, 'nameZh', s.name_zh, 'addressEn', s.address_en, 'addressZh', s.address_zh,
  'district', ${labelled('district')}, 'category', ${labelled('category')}, 'schoolGroup', ${labelled('school_group')},
  'gender', ${labelled('gender')}, 'session', ${labelled('session')}, 'religion', ${labelled('religion')},
  'schoolNet', CASE WHEN s.school_net IS NULL THEN NULL ELSE json_build_object('code', s.school_net, 'en', 'School Net ' || s.school_net, 'zh', s.school_net || ' 校網') END,
  'banding', CASE WHEN b.band IS NULL THEN NULL ELSE json_build_object('code', b.band, 'en', 'Band ' || upper(b.band), 'zh', '第' || (ARRAY['一','二','三'])[left(b.band, 1)::int] || '組別' || CASE WHEN length(b.band) > 1 THEN ' ' || upper(b.band) ELSE '' END) END,
  'phone', s.phone, 'website', s.website, 'latitude', s.latitude, 'longitude', s.longitude
)`

/** Column each filter field compares; all are plain equality on an indexed code. */
export const FILTER_COLUMNS: Record<FilterField, string> = {
  district: 's.district',
  schoolNet: 's.school_net',
  category: 's.category',
  schoolGroup: 's.school_group',
  gender: 's.gender',
  religion: 's.religion',
  session: 's.session',
  banding: 'b.band',
}

export interface SchoolDetail {
  [key: string]: unknown
}

export interface SchoolStats {
  totals: { primary: number; secondary: number; all: number }
  byDistrict: (FilterOption & { primary: number; secondary: number })[]
  byCategory: (FilterOption & { primary: number; secondary: number })[]
  applicationWindowsOpen: number
  asOf: string
}

export class SchoolRepository {
  constructor(private readonly db: Database) {}

  async list(query: ListQuery): Promise<ListPage<unknown>> {
    const params: unknown[] = [query.level]
    const where = ['s.level = $1']
    for (const [field, codes] of Object.entries(query.filters)) {
      if (!codes || codes.length === 0) continue
      params.push(codes)
      where.push(`${FILTER_COLUMNS[field as FilterField]} = ANY($${params.length}::text[])`)
    }
    if (query.q) {
      params.push(`%${query.q.replace(/[\\%_]/g, (char) => `\\${char}`)}%`)
      where.push(`s.search_name LIKE $${params.length}`)
    }
    params.push(query.pageSize, (query.page - 1) * query.pageSize)
    const sql = `
      WITH filtered AS (
        SELECT s.*, b.band FROM schools s LEFT JOIN secondary_banding b ON b.school_no = s.school_no
        WHERE ${where.join(' AND ')}
      ), page AS (
        SELECT ${ITEM_JSON.replaceAll('b.band', 's.band')} AS item, s.name_en, s.school_no FROM filtered s
        ORDER BY s.name_en COLLATE "C", s.school_no LIMIT $${params.length - 1} OFFSET $${params.length}
      )
      SELECT (SELECT count(*) FROM filtered)::int AS total,
        (SELECT coalesce(json_agg(item ORDER BY name_en COLLATE "C", school_no), '[]'::json) FROM page) AS items`
    const [row] = await this.db.query<{ total: number; items: unknown[] }>(sql, params)
    const total = row?.total ?? 0
    return { items: row?.items ?? [], page: query.page, pageSize: query.pageSize, total, totalPages: Math.ceil(total / query.pageSize) }
  }

  async detail(schoolNo: string): Promise<SchoolDetail | null> {
    const sql = `
      SELECT (${ITEM_JSON}::jsonb || jsonb_build_object(
        'fax', s.fax, 'easting', s.easting, 'northing', s.northing,
        'schoolNet', CASE WHEN s.school_net IS NULL THEN NULL ELSE jsonb_build_object('code', n.net, 'en', 'School Net ' || n.net, 'zh', n.net || ' 校網', 'areaZh', n.area_zh, 'webpage', n.webpage) END,
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
      WHERE s.school_no = $1 AND s.level IN ('primary', 'secondary')`
    const [row] = await this.db.query<{ detail: SchoolDetail }>(sql, [schoolNo])
    return row ? camelCaseProfile(row.detail) : null
  }

  /** Every school number served, for warming every detail. */
  async allSchoolNos(): Promise<string[]> {
    const rows = await this.db.query<{ schoolNo: string }>(`SELECT school_no AS "schoolNo" FROM schools WHERE level IN ('primary', 'secondary') ORDER BY school_no`)
    return rows.map((row) => row.schoolNo)
  }

  async filterOptions(level: Level): Promise<FilterOptions> {
    const fields = FILTER_FIELDS[level]
    const selects = fields.map((field) => {
      if (field === 'banding') {
        return `SELECT 'banding' AS field, b.band AS code, '' AS en, '' AS zh, count(*)::int AS count
          FROM schools s JOIN secondary_banding b ON b.school_no = s.school_no WHERE s.level = $1 GROUP BY b.band`
      }
      if (field === 'schoolNet') {
        return `SELECT 'schoolNet' AS field, n.net AS code, 'School Net ' || n.net AS en, n.net || ' 校網 (' || n.area_zh || ')' AS zh, count(*)::int AS count
          FROM schools s JOIN school_nets n ON n.net = s.school_net WHERE s.level = $1 GROUP BY n.net, n.area_zh`
      }
      const column = FILTER_COLUMNS[field]!.slice(2)
      // min() picks one label where a code's rows disagree (they do not in the bundled data).
      return `SELECT '${field}' AS field, ${column} AS code, min(${column}_en) AS en, min(${column}_zh) AS zh, count(*)::int AS count
        FROM schools s WHERE s.level = $1 GROUP BY ${column}`
    })
    const sql = `${selects.join('\nUNION ALL\n')}\nUNION ALL SELECT '_total', '', '', '', count(*)::int FROM schools WHERE level = $1`
    const rows = await this.db.query<{ field: string; code: string; en: string; zh: string; count: number }>(sql, [level])
    const filters: Record<string, FilterOption[]> = Object.fromEntries(fields.map((field) => [field, [] as FilterOption[]]))
    let total = 0
    for (const row of rows) {
      if (row.field === '_total') {
        total = row.count
        continue
      }
      const labels = row.field === 'banding' ? bandLabel(row.code) : { code: row.code, en: row.en, zh: row.zh }
      filters[row.field]!.push({ ...labels, count: row.count })
    }
    for (const options of Object.values(filters)) options.sort((a, b) => a.code.localeCompare(b.code, 'en', { numeric: true }))
    return { level, total, filters }
  }

  async stats(): Promise<SchoolStats> {
    const sql = `
      WITH counts AS (
        SELECT 'district' AS field, district AS code, min(district_en) AS en, min(district_zh) AS zh, level, count(*)::int AS n FROM schools WHERE level IN ('primary', 'secondary') GROUP BY district, level
        UNION ALL
        SELECT 'category', category, min(category_en), min(category_zh), level, count(*)::int FROM schools WHERE level IN ('primary', 'secondary') GROUP BY category, level
      )
      SELECT field, code, min(en) AS en, min(zh) AS zh,
        coalesce(sum(n) FILTER (WHERE level = 'primary'), 0)::int AS primary,
        coalesce(sum(n) FILTER (WHERE level = 'secondary'), 0)::int AS secondary,
        (SELECT count(DISTINCT school_no)::int FROM application_windows WHERE now() >= opens_at AND now() < closes_at) AS open_now,
        now() AS as_of
      FROM counts GROUP BY field, code ORDER BY field, code`
    const rows = await this.db.query<{ field: string; code: string; en: string; zh: string; primary: number; secondary: number; open_now: number; as_of: Date }>(sql)
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
}

/** The profile's columns come out of to_jsonb in snake_case; the API speaks camelCase. */
function camelCaseProfile(detail: SchoolDetail): SchoolDetail {
  const profile = detail.profile as Record<string, unknown> | null
  if (!profile) return detail
  const renamed = Object.fromEntries(Object.entries(profile).map(([key, value]) => [key.replace(/_([a-z0-9])/g, (_m, char: string) => char.toUpperCase()), value]))
  return { ...detail, profile: renamed }
}
