// `--scale N`: a clearly synthetic dataset, N copies of the bundled schools, in a schema of
// its own (never mixed with real data). Every copy is marked: English names start with
// "SYNTHETIC " and end with the copy number, Chinese names start with 合成, school numbers
// start with 9 (no EDB school number does; checked below), and addresses, phones and web
// sites are blanked. Coded values (districts, nets, categories...) are kept, so every filter
// and every warm target of the real data exists here too, N times larger.
import type { Database, Queryable } from '../src/db/database.ts'
import { refreshFacets } from '../src/schools/facets.ts'

const SCHOOL_OVERRIDES: Record<string, string> = {
  school_no: `'9' || lpad(c::text, 3, '0') || lpad(m.row_index::text, 4, '0') || '0000'`,
  // Rows of one school (several sessions) keep sharing an id within their copy.
  school_id: `lpad((c * m.ids + m.id_index)::text, 6, '0')`,
  name_en: `'SYNTHETIC ' || s.name_en || ' #' || lpad(c::text, 3, '0')`,
  name_zh: `'合成' || lpad(c::text, 3, '0') || ' ' || s.name_zh`,
  search_name: `lower('synthetic ' || s.name_en || ' #' || lpad(c::text, 3, '0') || ' 合成' || lpad(c::text, 3, '0') || ' ' || s.name_zh)`,
  address_en: 'NULL',
  address_zh: 'NULL',
  phone: 'NULL',
  fax: 'NULL',
  website: 'NULL',
}

const PROFILE_OVERRIDES: Record<string, string> = {
  school_no: SCHOOL_OVERRIDES.school_no!,
  profile_name_zh: `'合成' || lpad(c::text, 3, '0') || ' ' || p.profile_name_zh`,
  email: 'NULL',
}

async function columns(db: Queryable, schema: string, table: string): Promise<string[]> {
  const rows = await db.query<{ column_name: string }>(
    'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
    [schema, table],
  )
  return rows.map((row) => row.column_name)
}

function selectList(names: string[], alias: string, overrides: Record<string, string>): string {
  return names.map((name) => overrides[name] ?? `${alias}.${name}`).join(', ')
}

/**
 * Fills `db` (a migrated, empty schema) with `scale` synthetic copies of the schools in
 * `realSchema`. Returns the row count and how long it took.
 */
export async function generateSyntheticSchools(db: Database, realSchema: string, syntheticSchema: string, scale: number): Promise<{ rows: number; generateMs: number }> {
  const started = performance.now()
  await db.transaction(async (tx) => {
    const [clash] = await tx.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${realSchema}.schools WHERE school_no LIKE '9%'`)
    if ((clash?.count ?? 0) > 0) throw new Error('the real data has school numbers starting with 9, the range reserved for synthetic rows')
    // row_index numbers the real rows, id_index their distinct school ids: both feed the new keys.
    await tx.query(`CREATE TEMP TABLE synthetic_map ON COMMIT DROP AS
      SELECT school_no, row_number() OVER (ORDER BY school_no) AS row_index, dense_rank() OVER (ORDER BY school_id) AS id_index,
        (SELECT count(DISTINCT school_id) FROM ${realSchema}.schools) AS ids
      FROM ${realSchema}.schools`)
    const copies = `generate_series(0, ${scale - 1}) AS c`
    await tx.query(`INSERT INTO school_nets SELECT * FROM ${realSchema}.school_nets`)
    const schoolColumns = await columns(tx, syntheticSchema, 'schools')
    await tx.query(`INSERT INTO schools (${schoolColumns.join(', ')})
      SELECT ${selectList(schoolColumns, 's', SCHOOL_OVERRIDES)}
      FROM ${realSchema}.schools s JOIN synthetic_map m USING (school_no) CROSS JOIN ${copies}`)
    const profileColumns = await columns(tx, syntheticSchema, 'school_profiles')
    await tx.query(`INSERT INTO school_profiles (${profileColumns.join(', ')})
      SELECT ${selectList(profileColumns, 'p', PROFILE_OVERRIDES)}
      FROM ${realSchema}.school_profiles p JOIN synthetic_map m USING (school_no) CROSS JOIN ${copies}`)
    // Filter options, stats and list totals read the precomputed counts: every writer of schools refreshes them.
    await refreshFacets(tx)
  })
  await db.query('ANALYZE')
  const [row] = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM schools')
  return { rows: row?.count ?? 0, generateMs: performance.now() - started }
}
