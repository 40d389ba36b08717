// Where a bench run keeps its data: PostgreSQL schemas and a Redis key prefix of its own,
// named after the run, so it never touches another run's or the tests' data, and removed at
// the end (unless --keep).
import { Redis } from 'ioredis'
import { loadConfig, type Config } from '../src/config.ts'
import { openDatabase } from '../src/db/connect.ts'
import type { Database } from '../src/db/database.ts'
import { PostgresDatabase } from '../src/db/postgres.ts'
import { bundledSourceFiles, importSchools } from '../src/schools/import/schools-import.ts'
import type { BenchOptions } from './options.ts'

export const ADMIN_TOKEN = 'bench-admin-token-0123456789'

export class BenchEnvironment {
  /** Every schema and Redis prefix of this run starts with it. */
  readonly id = `bench_${Date.now().toString(36)}_${process.pid}`
  readonly #schemas = new Set<string>()

  constructor(readonly options: BenchOptions) {}

  schema(suffix: string): string {
    const name = `${this.id}_${suffix}`
    this.#schemas.add(name)
    return name
  }

  redisPrefix(suffix: string): string {
    return `${this.id}_${suffix}`
  }

  /** What a server process reads through src/config.ts. */
  serverEnv(schema: string, redisPrefix: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'warn',
      LOG_FILE: '',
      LOG_REQUESTS: 'false',
      DATABASE_URL: this.options.databaseUrl,
      DATABASE_SCHEMA: schema,
      REDIS_URL: this.options.redisUrl,
      REDIS_PREFIX: redisPrefix,
      SCHEDULER: 'off',
      WARMUP_ON_BOOT: 'false',
      AUTO_IMPORT: 'false',
      ADMIN_TOKEN,
      ...extra,
    }
  }

  config(schema: string, redisPrefix: string, extra: Record<string, string> = {}): Config {
    return loadConfig(this.serverEnv(schema, redisPrefix, extra))
  }

  /** A migrated schema holding the bundled open data, imported once for every server. */
  async importBundledData(schema: string): Promise<{ rows: number; importMs: number }> {
    const config = this.config(schema, this.redisPrefix('import'), { DATABASE_TIMEOUT_MS: '600000' })
    const db = await openDatabase(config)
    try {
      const started = performance.now()
      const summary = await importSchools(db, bundledSourceFiles(config.sourceDir))
      await db.query('ANALYZE')
      return { rows: summary.rows.primary + summary.rows.secondary, importMs: performance.now() - started }
    } finally {
      await db.close()
    }
  }

  /** A connection of the bench's own; `timeoutMs` overrides the per-statement timeout (bulk writes). */
  async openDatabase(schema: string, timeoutMs?: number): Promise<Database> {
    return openDatabase(this.config(schema, this.redisPrefix('db'), timeoutMs === undefined ? {} : { DATABASE_TIMEOUT_MS: String(timeoutMs) }))
  }

  /** Drops every schema and deletes every Redis key this run created. Never throws. */
  async cleanUp(): Promise<string[]> {
    const problems: string[] = []
    const admin = new PostgresDatabase({ url: this.options.databaseUrl, schema: 'public', timeoutMs: 60_000, maxConnections: 1 })
    for (const schema of this.#schemas) {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch((error: unknown) => problems.push(`drop schema ${schema}: ${String(error)}`))
    }
    await admin.close().catch(() => {})
    const redis = new Redis(this.options.redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true })
    redis.on('error', () => {})
    try {
      await redis.connect()
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.id}*`, 'COUNT', 1000)
        if (keys.length > 0) await redis.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
    } catch (error) {
      problems.push(`delete Redis keys ${this.id}*: ${String(error)}`)
    } finally {
      redis.disconnect()
    }
    return problems
  }
}
