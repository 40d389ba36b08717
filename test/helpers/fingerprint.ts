import type { Queryable } from '../../src/db/database.ts'

/** A digest of every row of the given tables: equal digests mean identical contents. */
export async function fingerprint(db: Queryable, tables: string[] = ['schools', 'school_profiles', 'school_nets', 'secondary_banding', 'application_windows']): Promise<Record<string, string>> {
  const result: Record<string, string> = {}
  for (const table of tables) {
    const [row] = await db.query<{ digest: string | null; count: number }>(`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest, count(*)::int AS count FROM ${table} t`)
    result[table] = `${row?.count}:${row?.digest}`
  }
  return result
}
