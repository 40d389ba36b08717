// The list statement. Its cost follows the page, not the table: the page is picked by school
// number alone, in the order of the (level, [field,] name_en, school_no) indexes, and only its
// rows are joined back for their JSON; the total comes from the precomputed counts when they can
// answer it (up to two filter fields: school_facets and school_facet_pairs, migration 005), else
// from a narrow count(*).
import { FILTERS, ITEM_CODED_FIELDS, type FilterDeclaration, type FilterField, type ListQuery } from './model.ts'

/** A coded value with its labels from the one label table (code_labels, migration 006); NULL for a NULL code. */
export const labelled = (field: FilterField, code: string): string =>
  `(SELECT json_build_object('code', l.code, 'en', l.en, 'zh', l.zh) FROM code_labels l WHERE l.field = '${field}' AND l.code = ${code})`

/** The statements' table aliases: s for schools, b for secondary_banding (joined by school_no). */
const ALIAS: Record<FilterDeclaration['table'], string> = { schools: 's', secondary_banding: 'b' }

/** Column each filter field compares (from the declaration in model.ts); all are plain equality on an indexed code. */
export const FILTER_COLUMNS = Object.fromEntries(FILTERS.map((filter) => [filter.field, `${ALIAS[filter.table]}.${filter.column}`])) as Record<FilterField, string>

/** The fields of a list item (s: schools, b: secondary_banding); the detail adds more. */
export const ITEM_JSON = `json_build_object(
  'schoolNo', s.school_no, 'schoolId', s.school_id, 'level', s.level,
  'nameEn', s.name_en, 'nameZh', s.name_zh, 'addressEn', s.address_en, 'addressZh', s.address_zh,
  ${ITEM_CODED_FIELDS.map((field) => `'${field}', ${labelled(field, FILTER_COLUMNS[field])}`).join(',\n  ')},
  'phone', s.phone, 'website', s.website, 'latitude', s.latitude, 'longitude', s.longitude
)`

export interface Statement {
  sql: string
  params: unknown[]
}

/** One statement, one round trip: `{ total, items }` where items is the page as a JSON array. */
export function listStatement(query: ListQuery): Statement {
  const params: unknown[] = [query.level]
  const where = ['s.level = $1']
  /** Per filtered field, its codes' comparison with any column (the school's, or a count's code). */
  const filtered: { field: FilterField; equals: (column: string) => string }[] = []
  for (const [field, codes] of Object.entries(query.filters) as [FilterField, string[] | undefined][]) {
    if (!codes || codes.length === 0) continue
    // One code is compared with `=`, not `= ANY`: only then can the (level, field, name_en,
    // school_no) index hand out the rows already in page order (PostgreSQL before 17 does not
    // read an index in order for an array of values).
    params.push(codes.length === 1 ? codes[0] : codes)
    const param = params.length
    const equals = (column: string): string => (codes.length === 1 ? `${column} = $${param}::text` : `${column} = ANY($${param}::text[])`)
    filtered.push({ field, equals })
    where.push(equals(FILTER_COLUMNS[field]))
  }
  if (query.q) {
    params.push(`%${query.q.replace(/[\\%_]/g, (char) => `\\${char}`)}%`)
    where.push(`s.search_name LIKE $${params.length}`)
  }
  // Only a banding filter needs the band to pick rows; the join back adds it to every item.
  const from = filtered.some(({ field }) => FILTERS.some((filter) => filter.field === field && filter.table === 'secondary_banding')) ? 'schools s JOIN secondary_banding b ON b.school_no = s.school_no' : 'schools s'
  const conditions = where.join(' AND ')

  let total: string
  if (!query.q && filtered.length === 0) {
    total = `SELECT count FROM school_facets WHERE level = $1 AND field = '_total'`
  } else if (!query.q && filtered.length === 1) {
    // A school has one code per field, so the rows matching any of a field's codes are the sum
    // of those codes' counts.
    const [{ field, equals }] = filtered as [(typeof filtered)[number]]
    params.push(field)
    total = `SELECT sum(count) FROM school_facets WHERE level = $1 AND field = $${params.length} AND ${equals('code')}`
  } else if (!query.q && filtered.length === 2) {
    // The same for two fields, from the pair counts (stored with field_a < field_b).
    const [a, b] = [...filtered].sort((x, y) => (x.field < y.field ? -1 : 1)) as [(typeof filtered)[number], (typeof filtered)[number]]
    params.push(a.field, b.field)
    total = `SELECT sum(count) FROM school_facet_pairs WHERE level = $1 AND field_a = $${params.length - 1} AND ${a.equals('code_a')} AND field_b = $${params.length} AND ${b.equals('code_b')}`
  } else if (query.q) {
    total = 'SELECT count(*) FROM matches'
  } else {
    // Three fields or more: an index-only scan of the rows of one field's code (the indexes of
    // migration 005 carry the other filter columns), or a join with the banding.
    total = `SELECT count(*) FROM ${from} WHERE ${conditions}`
  }

  params.push(query.pageSize, (query.page - 1) * query.pageSize)
  const limit = `LIMIT $${params.length - 1} OFFSET $${params.length}`
  // Without q the planner walks the index in page order and stops after the page's rows. A LIKE
  // '%...%' has no index, so its count reads every row of the level anyway: the page is taken
  // from that one read (narrow: number and name) rather than from a second one. The matches are
  // sorted where they are read, which lets PostgreSQL scan and sort them in parallel workers
  // (without it, it chose a single-process scan: 130 ms instead of 80 for q=holy at x100).
  const ctes = query.q
    ? `matches AS MATERIALIZED (SELECT s.school_no, s.name_en FROM ${from} WHERE ${conditions} ORDER BY s.name_en COLLATE "C", s.school_no),
      page AS (SELECT school_no FROM matches ORDER BY name_en COLLATE "C", school_no ${limit})`
    : `page AS (SELECT s.school_no FROM ${from} WHERE ${conditions} ORDER BY s.name_en COLLATE "C", s.school_no ${limit})`
  const sql = `
    WITH ${ctes}
    SELECT coalesce((${total}), 0)::int AS total,
      (SELECT coalesce(json_agg(${ITEM_JSON} ORDER BY s.name_en COLLATE "C", s.school_no), '[]'::json)
       FROM page JOIN schools s ON s.school_no = page.school_no LEFT JOIN secondary_banding b ON b.school_no = s.school_no) AS items`
  return { sql, params }
}
