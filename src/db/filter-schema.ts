// The part of the schema generated from the filter declaration (FILTERS, src/schools/model.ts):
// the list indexes of migrations 001-005, the school_filter_codes view and refresh_code_labels()
// of migration 006. migrate.ts applies it after the numbered migrations whenever the generated
// SQL differs from what the database last got (its fingerprint is kept in schema_migrations), so
// a new filter field needs its declaration and a migration for its columns, nothing else here.
// Numbered migrations must not define these three again. See docs/filter-columns.md.
import { createHash } from 'node:crypto'
import { FILTER_COLUMNS } from '../schools/list-query.ts'
import { FILTERS, type FilterDeclaration } from '../schools/model.ts'
import type { Queryable } from './database.ts'

const VERSION_PREFIX = 'filter-schema:'
const INDEX_PREFIX = 'schools_level_'
/** Page order of every list (byte order, the same on both databases). */
const PAGE_ORDER = 'name_en COLLATE "C", school_no'

interface IndexDefinition {
  name: string
  keys: string
  include: string[]
}

const SCHOOL_COLUMNS = FILTERS.filter((filter) => filter.table === 'schools').map((filter) => filter.column)

/**
 * One index for the level's page order and one per filter column of `schools`, each carrying the
 * other filter columns so two-filter lists and counts need no table row (migration 005 measured it).
 * Names are those of the migrations that first created them (school_group: `group`).
 */
export function listIndexes(): IndexDefinition[] {
  return [
    { name: `${INDEX_PREFIX}order`, keys: `level, ${PAGE_ORDER}`, include: SCHOOL_COLUMNS },
    ...SCHOOL_COLUMNS.map((column) => ({
      name: `${INDEX_PREFIX}${column.replace(/^school_/, '')}`,
      keys: `level, ${column}, ${PAGE_ORDER}`,
      include: SCHOOL_COLUMNS.filter((other) => other !== column),
    })),
  ]
}

/** One row per (school, filter field) with the code and the labels the API serves; NULL codes are not options. */
export function filterCodesView(): string {
  const values = FILTERS.map((filter) => `('${filter.field}', ${FILTER_COLUMNS[filter.field]})`).join(',\n    ')
  return `CREATE OR REPLACE VIEW school_filter_codes AS
  SELECT s.level, s.school_no, f.field, f.code, l.en, l.zh
  FROM schools s
  LEFT JOIN secondary_banding b ON b.school_no = s.school_no
  CROSS JOIN LATERAL (VALUES
    ${values}
  ) AS f (field, code)
  JOIN code_labels l ON l.field = f.field AND l.code = f.code
  WHERE f.code IS NOT NULL`
}

/** Labels that do not come with the school rows, per source. */
const LABEL_SOURCES: Record<Exclude<FilterDeclaration['labels'], 'row'>, (field: string) => string> = {
  school_nets: (field) => `SELECT '${field}', n.net, 'School Net ' || n.net, n.net || ' 校網 (' || n.area_zh || ')' FROM school_nets n`,
  // Every band an operator may import (1, 1a ... 3c): the labels of bandLabel() in
  // src/schools/codes.ts (the tests hold them equal).
  bands: (field) => `SELECT '${field}', b.code, 'Band ' || upper(b.code),
    '第' || (ARRAY['一', '二', '三'])[left(b.code, 1)::int] || '組別' || CASE WHEN length(b.code) > 1 THEN ' ' || upper(b.code) ELSE '' END
  FROM (SELECT band || letter AS code FROM unnest(ARRAY['1', '2', '3']) AS band, unnest(ARRAY['', 'a', 'b', 'c']) AS letter) AS b`,
}

/**
 * code_labels from the rows' own labels (`<column>_en`, `<column>_zh`), the school nets and the
 * fixed set of bands. min() picks one label where a code's rows disagree (they do not in the
 * bundled data). refresh_school_facets() (migration 006) calls it in every writer's transaction.
 */
export function refreshCodeLabelsFunction(): string {
  const rowValues = FILTERS.filter((filter) => filter.labels === 'row')
    .map((filter) => `('${filter.field}', s.${filter.column}, s.${filter.column}_en, s.${filter.column}_zh)`)
    .join(',\n    ')
  const others = FILTERS.flatMap((filter) => (filter.labels === 'row' ? [] : [`  UNION ALL\n  ${LABEL_SOURCES[filter.labels](filter.field)}`]))
  return `CREATE OR REPLACE FUNCTION refresh_code_labels() RETURNS void LANGUAGE sql AS $$
  LOCK TABLE code_labels IN SHARE ROW EXCLUSIVE MODE;
  DELETE FROM code_labels;
  INSERT INTO code_labels (field, code, en, zh)
  SELECT f.field, f.code, min(f.en), min(f.zh)
  FROM schools s
  CROSS JOIN LATERAL (VALUES
    ${rowValues}
  ) AS f (field, code, en, zh)
  WHERE f.code IS NOT NULL
  GROUP BY f.field, f.code
${others.join('\n')};
$$`
}

function createIndex(index: IndexDefinition): string {
  return `CREATE INDEX ${index.name} ON schools (${index.keys})${index.include.length > 0 ? ` INCLUDE (${index.include.join(', ')})` : ''}`
}

/** The fingerprint of everything generated: applied again only when it changes. */
export function filterSchemaVersion(): string {
  const generated = [...listIndexes().map(createIndex), filterCodesView(), refreshCodeLabelsFunction()].join(';\n')
  return `${VERSION_PREFIX}${createHash('sha256').update(generated).digest('hex').slice(0, 16)}`
}

/** An index as pg_get_indexdef writes it, reduced to what makes it this index (INCLUDE order does not). */
function sameIndex(indexdef: string, index: IndexDefinition): boolean {
  const match = /USING btree \((.*?)\)(?: INCLUDE \((.*)\))?$/.exec(indexdef)
  if (!match) return false
  const include = (match[2] ?? '').split(', ').filter(Boolean).sort()
  return match[1] === index.keys && include.join() === [...index.include].sort().join()
}

/**
 * Brings the generated schema in line with the declaration, inside the migration's transaction:
 * the list indexes that differ are rebuilt (those that already match are kept, so a database
 * migrated before this step rebuilds nothing), the view and function replaced, and the labels
 * and counts refreshed. Returns the version it recorded, or nothing when it was current.
 */
export async function applyFilterSchema(tx: Queryable, applied: ReadonlySet<string>): Promise<string | undefined> {
  const version = filterSchemaVersion()
  if (applied.has(version)) return undefined
  const existing = await tx.query<{ indexname: string; indexdef: string }>(
    `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'schools' AND indexname LIKE $1`,
    [`${INDEX_PREFIX.replace(/_/g, '\\_')}%`],
  )
  const wanted = listIndexes()
  for (const index of existing) {
    const declared = wanted.find((each) => each.name === index.indexname)
    if (!declared || !sameIndex(index.indexdef, declared)) await tx.query(`DROP INDEX ${index.indexname}`)
  }
  for (const index of wanted) {
    const current = existing.find((each) => each.indexname === index.name)
    if (!current || !sameIndex(current.indexdef, index)) await tx.query(createIndex(index))
  }
  await tx.query(filterCodesView())
  await tx.query(refreshCodeLabelsFunction())
  await tx.query('SELECT refresh_school_facets()')
  await tx.query(`DELETE FROM schema_migrations WHERE version LIKE $1`, [`${VERSION_PREFIX}%`])
  await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version])
  return version
}
