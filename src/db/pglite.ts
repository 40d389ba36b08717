import { PGlite } from '@electric-sql/pglite'
import { countedQuery, QueryCounter, type Database, type Queryable } from './database.ts'

/** Embedded PostgreSQL for a bare machine: data kept in a directory, or in memory ('memory://'). */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite'
  readonly counter = new QueryCounter()
  readonly #db: PGlite
  readonly #schema: string

  private constructor(db: PGlite, schema: string) {
    this.#db = db
    this.#schema = schema
  }

  static async open(dataDir: string, schema = 'public'): Promise<PgliteDatabase> {
    const db = await PGlite.create(dataDir === 'memory://' ? undefined : dataDir)
    if (schema !== 'public') await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await db.exec(`SET search_path TO ${schema}, public`)
    return new PgliteDatabase(db, schema)
  }

  get schema(): string {
    return this.#schema
  }

  async query<Row = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    // PGlite runs in this thread and answers through promises alone, so a chain of queries never
    // gives the event loop a turn: without this, a warmup of every school's detail would hold off
    // every request, timer and shutdown for as long as it runs.
    await new Promise((resolve) => setImmediate(resolve))
    return countedQuery(this.counter, async () => (await this.#db.query<Row>(sql, params as unknown[])).rows)
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (raw) => {
      const tx: Queryable = {
        query: <Row>(sql: string, params: readonly unknown[] = []) =>
          countedQuery(this.counter, async () => (await raw.query<Row>(sql, params as unknown[])).rows),
      }
      return fn(tx)
    })
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1')
  }

  async close(): Promise<void> {
    await this.#db.close()
  }
}
