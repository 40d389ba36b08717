// The real server as a child process (`node --import tsx src/server.ts`), the way it runs in
// production: its own event loop, its own connections, signals and exit code. The fault tests
// cut its dependencies and signal it, which an in-process app cannot show honestly.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PROJECT_ROOT } from '../../src/config.ts'
import { openDatabase } from '../../src/db/connect.ts'
import { PostgresDatabase } from '../../src/db/postgres.ts'
import { bundledSourceFiles, importSchools } from '../../src/schools/import/schools-import.ts'
import { testDatabaseUrl, uniqueName } from './env.ts'
import { sparePort } from './redis.ts'

export const FAULTS_ADMIN_TOKEN = 'faults-admin-token-0123456789'

/** Children still running when the test process exits are killed, whatever failed before. */
const liveChildren = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL')
})

export interface ServerExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** From the signal sent by stop() to the process exit. */
  elapsedMs: number
}

export interface HttpResult {
  status: number
  headers: Headers
  body: string
  elapsedMs: number
}

export class ServerProcess {
  /** The last lines the process wrote (stdout and stderr), for failure messages. */
  readonly output: string[] = []
  readonly exited: Promise<ServerExit>
  #signalledAt = 0

  private constructor(private readonly child: ChildProcess, readonly port: number) {
    liveChildren.add(child)
    const remember = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue
        this.output.push(line)
        if (this.output.length > 400) this.output.shift()
      }
    }
    child.stdout?.on('data', remember)
    child.stderr?.on('data', remember)
    this.exited = once(child, 'exit').then(([code, signal]) => {
      liveChildren.delete(child)
      return { code: code as number | null, signal: signal as NodeJS.Signals | null, elapsedMs: Date.now() - this.#signalledAt }
    })
  }

  /**
   * Spawns the server with exactly `env` (plus PATH and HOME) and waits until it answers HTTP.
   * Logs at info level so a test can wait for what the server says it did.
   */
  static async start(env: Record<string, string>, startTimeoutMs = 60_000): Promise<ServerProcess> {
    const port = await sparePort()
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src', 'server.ts')], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ADMIN_TOKEN: FAULTS_ADMIN_TOKEN, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const server = new ServerProcess(child, port)
    const deadline = Date.now() + startTimeoutMs
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening:\n${server.tail()}`)
      if (Date.now() > deadline) {
        server.kill()
        throw new Error(`server did not answer within ${startTimeoutMs} ms:\n${server.tail()}`)
      }
      if (await server.get('/health', { timeoutMs: 1000 }).then(() => true, () => false)) return server
      await delay(100)
    }
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  tail(lines = 40): string {
    return this.output.slice(-lines).map((line) => line.slice(0, 400)).join('\n')
  }

  /** Resolves with the first log line (parsed) that `match` accepts, looking back over what was logged. */
  async waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      for (const line of this.output) {
        if (!line.startsWith('{')) continue
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          if (match(parsed)) return parsed
        } catch {
          // a line cut by the buffer; the next poll sees it whole
        }
      }
      if (Date.now() > deadline) throw new Error(`server did not log ${what} within ${timeoutMs} ms:\n${this.tail()}`)
      await delay(50)
    }
  }

  async get(urlPath: string, options: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<HttpResult> {
    return this.request('GET', urlPath, options)
  }

  async request(method: string, urlPath: string, options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
    const started = performance.now()
    const response = await fetch(`${this.url}${urlPath}`, {
      method,
      headers: options.headers ?? {},
      ...(options.body !== undefined ? { body: options.body } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    })
    const body = await response.text()
    return { status: response.status, headers: response.headers, body, elapsedMs: performance.now() - started }
  }

  admin(method: string, urlPath: string, body?: unknown, timeoutMs = 30_000): Promise<HttpResult> {
    return this.request(method, urlPath, {
      headers: { authorization: `Bearer ${FAULTS_ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      timeoutMs,
    })
  }

  /**
   * Waits until this process's boot warmup has succeeded, as it logs it (the run history may
   * hold an earlier process's boot run when a database is reused).
   */
  async waitForBootWarmup(timeoutMs = 60_000): Promise<void> {
    const line = await this.waitForLog((entry) => entry.trigger === 'boot' && typeof entry.status === 'string' && String(entry.msg).startsWith('warmup finished'), timeoutMs, 'the end of its boot warmup')
    if (line.status !== 'succeeded') throw new Error(`boot warmup ${String(line.status)}:\n${this.tail()}`)
  }

  /** Sends `signal` and waits for the exit, at most `timeoutMs`; then kills it and fails. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<ServerExit> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited
    this.signal(signal)
    return this.waitForExit(timeoutMs)
  }

  /** Sends `signal` and returns at once; the exit is measured from here. */
  signal(signal: NodeJS.Signals): void {
    this.#signalledAt = Date.now()
    this.child.kill(signal)
  }

  /** Waits for the process to exit, at most `timeoutMs`; then kills it and fails. */
  async waitForExit(timeoutMs: number): Promise<ServerExit> {
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs)
    })
    const result = await Promise.race([this.exited, timedOut])
    clearTimeout(timer)
    if (result === 'timeout') {
      this.kill()
      await this.exited
      throw new Error(`server did not exit within ${timeoutMs} ms:\n${this.tail()}`)
    }
    return result
  }

  /** Last resort (cleanup after a failure): SIGKILL if still running. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL')
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

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `check` every 100 ms until it is true; fails after `timeoutMs`. A throwing check counts as false. */
export async function pollUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`)
    await delay(100)
  }
}

/** A temporary log file path for a server process, removed by the returned cleanup. */
export async function tempLogFile(): Promise<{ file: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'faults-log-'))
  return { file: path.join(dir, 'backend.log'), remove: () => rm(dir, { recursive: true, force: true }) }
}
