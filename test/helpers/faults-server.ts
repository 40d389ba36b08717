// The real server as a child process (`node --import tsx src/server.ts`, through the one
// child-process helper, process-server.ts), the way it runs in production: its own event loop,
// its own connections, signals and exit code. The fault tests cut its dependencies and signal
// it, which an in-process app cannot show honestly.
import { mkdtemp, rm } from 'node:fs/promises'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PROJECT_ROOT } from '../../src/config.ts'
import { openDatabase } from '../../src/db/connect.ts'
import { PostgresDatabase } from '../../src/db/postgres.ts'
import { bundledSourceFiles, importSchools } from '../../src/schools/import/schools-import.ts'
import { testDatabaseUrl, uniqueName } from './env.ts'
import { NodeProcess, type HttpAnswer, type LogLine, type ProcessExit } from './process-server.ts'
import { sparePort } from './redis.ts'
import { delay, poll } from './wait.ts'

export const FAULTS_ADMIN_TOKEN = 'faults-admin-token-0123456789'

export type HttpResult = HttpAnswer

export interface ServerExit extends ProcessExit {
  /** From the signal sent by stop() to the process exit. */
  elapsedMs: number
}

/** The server as the fault suites drive it: a NodeProcess running src/server.ts, plus admin calls and the boot warmup. */
export class ServerProcess {
  readonly exited: Promise<ServerExit>
  #signalledAt = 0
  /** Connections kept open between requests, as a browser or a proxy does (and fetch did here). */
  readonly #agent = new http.Agent({ keepAlive: true })

  private constructor(readonly process: NodeProcess) {
    this.exited = process.exited.then((exit) => {
      this.#agent.destroy()
      return { ...exit, elapsedMs: Date.now() - this.#signalledAt }
    })
  }

  /**
   * Spawns the server with exactly `env` (plus PATH and HOME) and waits until it answers HTTP
   * (any status: a server whose database is down answers 503). Logs at info level so a test can
   * wait for what the server says it did.
   */
  static async start(env: Record<string, string>, startTimeoutMs = 60_000): Promise<ServerProcess> {
    const port = await sparePort()
    const child = NodeProcess.spawn({ label: 'server', entry: 'src/server.ts', port, env: { LOG_LEVEL: 'info', ADMIN_TOKEN: FAULTS_ADMIN_TOKEN, ...env } })
    try {
      await child.waitUntilAnswering(startTimeoutMs, () => true)
    } catch (error) {
      child.kill()
      throw error
    }
    return new ServerProcess(child)
  }

  get port(): number {
    return this.process.port
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /** Every line the process wrote (stdout and stderr). */
  get output(): readonly string[] {
    return this.process.lines
  }

  tail(lines = 40): string {
    return this.process.tail(lines)
  }

  /** Resolves with the first log line that `match` accepts, looking back over what was logged. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    return this.process.waitForLog(what, timeoutMs, match)
  }

  get(urlPath: string, options: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpResult> {
    return this.request('GET', urlPath, options)
  }

  request(method: string, urlPath: string, options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
    return this.process.request(method, urlPath, { agent: this.#agent, ...options })
  }

  admin(method: string, urlPath: string, body?: unknown, timeoutMs = 30_000): Promise<HttpResult> {
    return this.request(method, urlPath, {
      headers: { authorization: `Bearer ${FAULTS_ADMIN_TOKEN}` },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      timeoutMs,
    })
  }

  /**
   * Waits until this process's boot warmup has succeeded, as it logs it (the run history may
   * hold an earlier process's boot run when a database is reused).
   */
  async waitForBootWarmup(timeoutMs = 180_000): Promise<void> {
    const line = await this.waitForLog((entry) => entry.trigger === 'boot' && typeof entry.status === 'string' && String(entry.msg).startsWith('warmup finished'), timeoutMs, 'the end of its boot warmup')
    if (line.status !== 'succeeded') throw new Error(`boot warmup ${String(line.status)}:\n${this.tail()}`)
  }

  /** Sends `signal` and waits for the exit, at most `timeoutMs`; then kills it and fails. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<ServerExit> {
    if (!this.process.running) return this.exited
    this.signal(signal)
    return this.waitForExit(timeoutMs)
  }

  /** Sends `signal` and returns at once; the exit is measured from here. */
  signal(signal: NodeJS.Signals): void {
    this.#signalledAt = Date.now()
    this.process.signal(signal)
  }

  /** Waits for the process to exit, at most `timeoutMs`; then kills it and fails. */
  async waitForExit(timeoutMs: number): Promise<ServerExit> {
    try {
      await this.process.waitForExit(timeoutMs)
    } catch (error) {
      this.kill()
      await this.exited
      throw error
    }
    return this.exited
  }

  /** Last resort (cleanup after a failure): SIGKILL if still running. */
  kill(): void {
    this.#agent.destroy()
    this.process.kill()
  }
}

/** A database for a server process: a fresh PostgreSQL schema when the run has PostgreSQL, else a PGlite directory. */
export interface ServerDatabase {
  kind: 'postgres' | 'pglite'
  env: Record<string, string>
  /** The PostgreSQL schema (postgres only), for looking at what the server wrote. */
  schema: string | undefined
  drop(): Promise<void>
}

/**
 * `imported`: the bundled data is imported here, before the server starts, so a server given a
 * short DATABASE_TIMEOUT_MS (which the bulk import would exceed) starts on a full database.
 * `databaseUrl` is where the server connects (a proxy); the import always goes direct.
 */
export async function serverDatabase(options: { databaseUrl?: string; imported?: boolean } = {}): Promise<ServerDatabase> {
  if (testDatabaseUrl) {
    const schema = uniqueName('faults')
    if (options.imported) await importInto({ databaseUrl: testDatabaseUrl, pgliteDir: '', databaseSchema: schema, databaseTimeoutMs: 60_000 })
    return {
      kind: 'postgres',
      env: { DATABASE_URL: options.databaseUrl ?? testDatabaseUrl, DATABASE_SCHEMA: schema },
      schema,
      drop: async () => {
        await withPostgres('public', (db) => db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
      },
    }
  }
  if (options.databaseUrl) throw new Error('serverDatabase({ databaseUrl }) needs TEST_DATABASE_URL')
  const dir = await mkdtemp(path.join(tmpdir(), 'faults-pglite-'))
  if (options.imported) await importInto({ databaseUrl: undefined, pgliteDir: dir, databaseSchema: 'public', databaseTimeoutMs: 60_000 })
  return { kind: 'pglite', env: { PGLITE_DIR: dir }, schema: undefined, drop: () => rm(dir, { recursive: true, force: true }) }
}

async function importInto(config: Parameters<typeof openDatabase>[0]): Promise<void> {
  const db = await openDatabase(config)
  try {
    await importSchools(db, bundledSourceFiles(path.join(PROJECT_ROOT, 'data', 'source')))
  } finally {
    await db.close()
  }
}

/** A short-lived direct connection to the test PostgreSQL (not through any proxy). */
export async function withPostgres<T>(schema: string, use: (db: PostgresDatabase) => Promise<T>): Promise<T> {
  if (!testDatabaseUrl) throw new Error('withPostgres needs TEST_DATABASE_URL')
  const db = new PostgresDatabase({ url: testDatabaseUrl, schema, timeoutMs: 10_000, maxConnections: 1 })
  try {
    return await use(db)
  } finally {
    await db.close()
  }
}

export { delay }

/** Polls `check` every 100 ms until it is true; fails after `timeoutMs`. A throwing check counts as false. */
export async function pollUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  await poll(what, timeoutMs, check, { intervalMs: 100 })
}

/** A temporary log file path for a server process, removed by the returned cleanup. */
export async function tempLogFile(): Promise<{ file: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'faults-log-'))
  return { file: path.join(dir, 'backend.log'), remove: () => rm(dir, { recursive: true, force: true }) }
}
