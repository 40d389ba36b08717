// Applies the numbered SQL files in ./migrations in order, each in its own transaction,
// and records them so every start is idempotent; then the schema generated from the filter
// declaration (filter-schema.ts), when it changed. An advisory lock makes concurrent starts
// (several workers or instances) migrate once.
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Database } from './database.ts'
import { applyFilterSchema } from './filter-schema.ts'

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations')
const LOCK_ID = 7_420_001

export async function migrate(db: Database): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).sort()
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_ID])
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
    const done = new Set((await tx.query<{ version: string }>('SELECT version FROM schema_migrations')).map((row) => row.version))
    const applied: string[] = []
    for (const file of files) {
      if (done.has(file)) continue
      const sql = await readFile(path.join(MIGRATIONS_DIR, file), 'utf8')
      // Statements one by one: the extended protocol that parameterised queries use takes one at a time.
      for (const statement of splitStatements(sql)) await tx.query(statement)
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [file])
      applied.push(file)
    }
    const generated = await applyFilterSchema(tx, done)
    if (generated) applied.push(generated)
    return applied
  })
}

function splitStatements(sql: string): string[] {
  const pieces = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*$/m)
  // A function body ($$ ... $$) holds statements of its own: a piece that leaves a $$ open is
  // joined with the next ones until it closes.
  const statements: string[] = []
  let open = ''
  for (const piece of pieces) {
    open = open ? `${open};\n${piece}` : piece
    if ((open.match(/\$\$/g) ?? []).length % 2 === 0) {
      statements.push(open.trim())
      open = ''
    }
  }
  if (open.trim()) statements.push(open.trim())
  return statements.filter(Boolean)
}
