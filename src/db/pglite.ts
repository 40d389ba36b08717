import { setFlagsFromString } from 'node:v8'
import { PGlite } from '@electric-sql/pglite'
import { DatabaseUnopenableError } from '../errors.ts'
import { lockDirectory, type DirectoryLock } from './directory-lock.ts'
import { countedQuery, QueryCounter, type Database, type Queryable } from './database.ts'

/**
 * PostgreSQL's default 128 MB of shared buffers is memory the WASM heap commits at start and
 * never returns: about 117 MB of the process's RSS. 16 MB holds the warm queries' pages; PGlite
 * reads the rest through the file system, so the OS page cache backs it (README, "## Benchmark").
 */
const PGLITE_SETTINGS = ['shared_buffers=16MB']

/**
 * V8 compiles PostgreSQL's WebAssembly with its baseline compiler (Liftoff) and then again, with
 * TurboFan, each function that runs hot: about 40-60 MB of code and compiler memory the process
 * keeps. Liftoff alone measured 198-201 MB RSS after the boot warmup instead of 235-260 MB, for
 * about 2% longer boot warmups and 5-8% more CPU per uncached query; cached reads never reach
 * PostgreSQL (README, "Memory"). Set before the module is compiled; it holds for every WASM module
 * compiled after it, and PostgreSQL's is the only large one in this process.
 */
const BASELINE_WASM_ONLY = '--liftoff-only'

/** Embedded PostgreSQL for a bare machine: data kept in a directory, or in memory ('memory://'). */
export class PgliteDatabase implements Database {
  readonly kind = 'pglite'
  readonly counter = new QueryCounter()
  readonly #db: PGlite
  readonly #schema: string
  readonly #lock: DirectoryLock | undefined

  private constructor(db: PGlite, schema: string, lock: DirectoryLock | undefined) {
    this.#db = db
    this.#schema = schema
    this.#lock = lock
  }

  /**
   * Opens a directory only under its lock (see directory-lock.ts): a second process gets
   * DatabaseLockedError. A directory PGlite cannot open gets DatabaseUnopenableError instead of
   * its WASM abort; nothing in it is touched.
   */
  static async open(dataDir: string, schema = 'public'): Promise<PgliteDatabase> {
    const inMemory = dataDir === 'memory://'
    const lock = inMemory ? undefined : lockDirectory(dataDir)
    let db: PGlite
    setFlagsFromString(BASELINE_WASM_ONLY)
    try {
      db = await PGlite.create(inMemory ? undefined : dataDir, { postgresqlconf: PGLITE_SETTINGS })
    } catch (error) {
      lock?.release()
      throw inMemory ? error : new DatabaseUnopenableError(dataDir, error)
    }
    try {
      if (schema !== 'public') await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await db.exec(`SET search_path TO ${schema}, public`)
    } catch (error) {
      await db.close().catch(() => {})
      lock?.release()
      throw error
    }
    return new PgliteDatabase(db, schema, lock)
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
    try {
      await this.#db.close()
    } finally {
      this.#lock?.release()
    }
  }
}
