// Set-based writes for the importers: one statement per table, whatever the row count,
// with every value passed as a typed array parameter (never spliced into SQL).
import type { Queryable } from '../../db/database.ts'

export type ColumnType = 'text' | 'integer' | 'double precision' | 'jsonb' | 'timestamptz'

export interface Column<Row> {
  name: string
  type: ColumnType
  value: (row: Row) => unknown
}

export interface UpsertResult {
  inserted: string[]
  updated: string[]
}

/**
 * Inserts rows, updates those whose values differ, leaves identical ones untouched (so a
 * re-import writes nothing), and reports which keys were inserted and which updated.
 * `compare` limits what counts as a difference (default: every non-key column); columns left
 * out (bookkeeping such as the source file name) are written only along with a real change.
 */
export async function upsertRows<Row>(tx: Queryable, table: string, key: string[], columns: Column<Row>[], rows: Row[], compare?: string[]): Promise<UpsertResult> {
  if (rows.length === 0) return { inserted: [], updated: [] }
  const names = columns.map((column) => column.name)
  const unnest = columns.map((column, index) => `$${index + 1}::${column.type === 'jsonb' ? 'text' : column.type}[]`).join(', ')
  const select = columns.map((column) => (column.type === 'jsonb' ? `${column.name}::jsonb` : column.name)).join(', ')
  const updated = names.filter((name) => !key.includes(name))
  const mutable = compare ?? updated
  const keyExpression = key.length === 1 ? `${table}.${key[0]}` : `concat_ws('|', ${key.map((name) => `${table}.${name}`).join(', ')})`
  const sql = `
    INSERT INTO ${table} (${names.join(', ')})
    SELECT ${select} FROM unnest(${unnest}) AS source(${names.join(', ')})
    ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${updated.map((name) => `${name} = excluded.${name}`).join(', ')}
    WHERE (${mutable.map((name) => `${table}.${name}`).join(', ')}) IS DISTINCT FROM (${mutable.map((name) => `excluded.${name}`).join(', ')})
    RETURNING ${keyExpression} AS key, (xmax = 0) AS inserted`
  const params = columns.map((column) =>
    rows.map((row) => {
      const value = column.value(row)
      return column.type === 'jsonb' && value !== null ? JSON.stringify(value) : value
    }),
  )
  const changed = await tx.query<{ key: string; inserted: boolean }>(sql, params)
  return {
    inserted: changed.filter((row) => row.inserted).map((row) => row.key),
    updated: changed.filter((row) => !row.inserted).map((row) => row.key),
  }
}

/** Deletes the rows whose key is not in `keep`; returns the deleted keys. */
export async function deleteMissing(tx: Queryable, table: string, key: string, keep: string[]): Promise<string[]> {
  const rows = await tx.query<{ key: string }>(`DELETE FROM ${table} WHERE NOT (${key} = ANY($1::text[])) RETURNING ${key} AS key`, [keep])
  return rows.map((row) => row.key)
}
