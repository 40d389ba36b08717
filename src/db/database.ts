// One interface over PostgreSQL (pg) and PGlite, and the one place every query passes
// through: it counts queries (tests and /metrics read the counter) and turns connection
// failures and timeouts into DatabaseUnavailableError so callers can degrade cleanly.
import { DatabaseUnavailableError } from '../errors.ts'

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>
}

export type DatabaseKind = 'postgres' | 'pglite'

export interface Database extends Queryable {
  readonly kind: DatabaseKind
  readonly counter: QueryCounter
  /** Runs fn in one transaction; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  ping(): Promise<void>
  close(): Promise<void>
}

export type QueryListener = (durationMs: number, failed: boolean) => void

/** Counts every statement sent to the database. */
export class QueryCounter {
  #total = 0
  #failed = 0
  readonly #listeners = new Set<QueryListener>()

  get total(): number {
    return this.#total
  }

  get failed(): number {
    return this.#failed
  }

  onQuery(listener: QueryListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  record(durationMs: number, failed: boolean): void {
    this.#total += 1
    if (failed) this.#failed += 1
    for (const listener of this.#listeners) listener(durationMs, failed)
  }
}

// Errors that mean "the server is not there or not answering", as opposed to a bad query.
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', '57P01', '57P03', '57014', '08000', '08003', '08006', '08001', '08004'])
// Whole SQLSTATE classes: 08 connection exceptions, 28 authorization (a pg_hba.conf rejection, a
// wrong password), 53 insufficient resources (too many connections), 57P operator intervention
// (shutdown, crash, starting up), and 3D000 (the database does not exist). The server cannot
// serve queries; none of them is the query's fault.
const UNAVAILABLE_CLASSES = /^(08|28|53|57P)|^3D000$/
const UNAVAILABLE_MESSAGES = /timeout|terminat|Connection terminated|connect|closed|ended|not queryable/i

export function isUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true
  if (!(error instanceof Error)) return false
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_CLASSES.test(code))) return true
  // pg reports most transport failures without a code.
  return code === undefined && UNAVAILABLE_MESSAGES.test(error.message)
}

/** Wraps a raw query function with counting and error translation. */
export async function countedQuery<Row>(counter: QueryCounter, run: () => Promise<Row[]>): Promise<Row[]> {
  const started = performance.now()
  try {
    const rows = await run()
    counter.record(performance.now() - started, false)
    return rows
  } catch (error) {
    counter.record(performance.now() - started, true)
    if (isUnavailable(error)) throw new DatabaseUnavailableError(error)
    throw error
  }
}
