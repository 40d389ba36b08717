// Database builders for tests: every test database is a fresh PGlite instance or a fresh
// PostgreSQL schema, migrated, and dropped again when the test's `after` hook runs.
import { after, before, describe } from 'node:test'
import { openDatabase } from '../../src/db/connect.ts'
import type { Database } from '../../src/db/database.ts'
import { PostgresDatabase } from '../../src/db/postgres.ts'
import { skipUnlessServers, testDatabaseUrl, uniqueName } from './env.ts'

export type DatabaseBackend = 'pglite' | 'postgres'

export interface TestDatabase {
  db: Database
  backend: DatabaseBackend
  /** Config fragment that opens the same database again (another process, a restart). */
  config: { databaseUrl: string | undefined; pgliteDir: string; databaseSchema: string; databaseTimeoutMs: number }
  drop(): Promise<void>
}

export function availableBackends(): DatabaseBackend[] {
  return testDatabaseUrl ? ['pglite', 'postgres'] : ['pglite']
}

/** PGlite's in-memory location: every open of it is a database of its own. */
export const IN_MEMORY = 'memory://'

/** The config fragment of a PGlite database in `pgliteDir` (IN_MEMORY or a directory). */
export function pgliteConfig(pgliteDir: string, timeoutMs = 5000): TestDatabase['config'] {
  return { databaseUrl: undefined, pgliteDir, databaseSchema: 'public', databaseTimeoutMs: timeoutMs }
}

/** Opens a migrated, empty database of the given backend. PGlite uses a directory when `dir` is given. */
export async function createTestDatabase(backend: DatabaseBackend, options: { pgliteDir?: string; timeoutMs?: number } = {}): Promise<TestDatabase> {
  const timeoutMs = options.timeoutMs ?? 5000
  if (backend === 'pglite') {
    const config = pgliteConfig(options.pgliteDir ?? IN_MEMORY, timeoutMs)
    const db = await openDatabase(config)
    return { db, backend, config, drop: () => db.close().catch(() => {}) }
  }
  const schema = uniqueName('t')
  const config = { databaseUrl: testDatabaseUrl!, pgliteDir: '', databaseSchema: schema, databaseTimeoutMs: timeoutMs }
  const db = await openDatabase(config)
  return {
    db,
    backend,
    config,
    drop: async () => {
      await db.close().catch(() => {})
      const admin = new PostgresDatabase({ url: testDatabaseUrl!, schema: 'public', timeoutMs, maxConnections: 1 })
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => admin.close())
    },
  }
}

/**
 * Registers `suite` once per available backend. Each copy gets its own migrated database,
 * opened before its first test and dropped after its last.
 */
export function describeEachDatabase(title: string, suite: (getDb: () => TestDatabase, backend: DatabaseBackend) => void): void {
  skipUnlessServers(`${title} [postgres]`, ['postgres'])
  for (const backend of availableBackends()) {
    describe(`${title} [${backend}]`, () => {
      let current: TestDatabase | undefined
      before(async () => {
        current = await createTestDatabase(backend)
      })
      after(async () => {
        await current?.drop()
      })
      suite(() => {
        if (!current) throw new Error('test database not open yet')
        return current
      }, backend)
    })
  }
}
