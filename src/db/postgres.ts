import pg from 'pg'
import { countedQuery, QueryCounter, type Database, type Queryable } from './database.ts'

export interface PostgresOptions {
  url: string
  schema: string
  timeoutMs: number
  maxConnections?: number
}

// Return int8/numeric as numbers: counts here never approach 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value))
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value))

export class PostgresDatabase implements Database {
  readonly kind = 'postgres'
  readonly counter = new QueryCounter()
  readonly #pool: pg.Pool

  constructor(options: PostgresOptions) {
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 10,
      // The server-side timeout stops runaway statements; the client-side ones stop a request
      // from hanging on a dead or partitioned server.
      options: `-c search_path=${options.schema},public -c statement_timeout=${options.timeoutMs}`,
      connectionTimeoutMillis: options.timeoutMs,
      query_timeout: options.timeoutMs + 500,
      idleTimeoutMillis: 30_000,
    })
    // An idle client losing its connection must not crash the process; the next query reports it.
    this.#pool.on('error', () => {})
  }

  query<Row = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return countedQuery(this.counter, async () => (await this.#pool.query(sql, params as unknown[])).rows as Row[])
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await countedQuery(this.counter, async () => [await this.#pool.connect()]).then((rows) => rows[0]!)
    const tx: Queryable = {
      query: <Row>(sql: string, params: readonly unknown[] = []) =>
        countedQuery(this.counter, async () => (await client.query(sql, params as unknown[])).rows as Row[]),
    }
    try {
      await tx.query('BEGIN')
      const result = await fn(tx)
      await tx.query('COMMIT')
      client.release()
      return result
    } catch (error) {
      await tx.query('ROLLBACK').catch(() => {})
      client.release(true)
      throw error
    }
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1')
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
