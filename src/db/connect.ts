import { mkdir } from 'node:fs/promises'
import type { Config } from '../config.ts'
import type { Database } from './database.ts'
import { migrate } from './migrate.ts'
import { PostgresDatabase } from './postgres.ts'

/** Opens the configured database (PostgreSQL when DATABASE_URL is set, else PGlite) and migrates it. */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'pgliteDir' | 'databaseSchema' | 'databaseTimeoutMs'>): Promise<Database> {
  let db: Database
  if (config.databaseUrl) {
    if (config.databaseSchema !== 'public') {
      const bootstrap = new PostgresDatabase({ url: config.databaseUrl, schema: 'public', timeoutMs: config.databaseTimeoutMs, maxConnections: 1 })
      try {
        await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS ${config.databaseSchema}`)
      } finally {
        await bootstrap.close()
      }
    }
    db = new PostgresDatabase({ url: config.databaseUrl, schema: config.databaseSchema, timeoutMs: config.databaseTimeoutMs })
  } else {
    if (config.pgliteDir !== 'memory://') await mkdir(config.pgliteDir, { recursive: true })
    // Loaded only here: PGlite's module (its PostgreSQL build's JavaScript) is memory a deployment
    // on PostgreSQL never needs (README, "Memory and the boot with workers").
    const { PgliteDatabase } = await import('./pglite.ts')
    db = await PgliteDatabase.open(config.pgliteDir, config.databaseSchema)
  }
  try {
    await migrate(db)
  } catch (error) {
    await db.close()
    throw error
  }
  return db
}
