// Real server processes for the scale tests: `node --import tsx <entry> [args]` with exactly the
// environment given, the way production runs them: own event loop, own connections, signals and
// exit codes, and with `serve --workers N` a real node:cluster. Every output line is kept, so a
// test can wait for and count what the processes logged; pino's JSON lines carry the pid of the
// process that wrote them, which tells a cluster's primary and workers apart.
import { spawn, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import path from 'node:path'
import { PROJECT_ROOT } from '../../src/config.ts'
import { delay, poll } from './wait.ts'

export interface LogLine {
  level?: number
  pid?: number
  msg?: string
  [field: string]: unknown
}

export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface HttpAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  elapsedMs: number
}

export interface HttpOptions {
  headers?: Record<string, string>
  body?: string
  timeoutMs?: number
  /** Default: a new connection per request, so node:cluster's round robin spreads requests over its workers. */
  agent?: http.Agent | false
}

const MAX_KEPT_LINES = 50_000

/** Whatever failed before, no child outlives the test process: each is killed with its whole process group. */
const liveChildren = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of liveChildren) killGroup(child)
})

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    // The child leads its own group (detached), so its cluster workers go with it.
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    child.kill('SIGKILL')
  }
}

export { delay }

/** Polls `check` until it returns something other than undefined or false; a throwing check counts as not yet. */
export function pollFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false> | T | undefined | false, intervalMs = 50): Promise<T> {
  return poll(what, timeoutMs, check, { intervalMs })
}

/** True while a process with this pid exists (the embedded database lock's own check). */
export { processAlive } from '../../src/db/directory-lock.ts'

/** One response header as a single string, or null when absent (what fetch's Headers.get gives). */
export function headerOf(answer: HttpAnswer, name: string): string | null {
  const value = answer.headers[name.toLowerCase()]
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value
}

/** One HTTP request to 127.0.0.1:`port`; never keeps the connection unless an agent is given. */
export function httpRequest(port: number, method: string, urlPath: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: '127.0.0.1',
      port,
      method,
      path: urlPath,
      agent: options.agent ?? false,
      headers: { ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}), ...options.headers },
      timeout: options.timeoutMs ?? 10_000,
    }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('error', reject)
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8'), elapsedMs: performance.now() - started }))
    })
    request.on('timeout', () => request.destroy(new Error(`${method} ${urlPath} on port ${port}: no answer within ${options.timeoutMs ?? 10_000} ms`)))
    request.on('error', reject)
    request.end(options.body)
  })
}

export interface SpawnOptions {
  /** Names the process in failure messages. */
  label: string
  /** Script under the project root, e.g. 'src/server.ts' or 'src/cli/main.ts'. */
  entry: string
  args?: string[]
  /** The whole environment, apart from PATH and HOME. */
  env: Record<string, string>
  /** The PORT the process listens on (also given to it as PORT), for request(). */
  port?: number
}

export class NodeProcess {
  readonly lines: string[] = []
  readonly exited: Promise<ProcessExit>
  readonly #logs: LogLine[] = []
  readonly #child: ChildProcess
  /** Settles once the output pipes are closed (or a while after the exit, if a surviving worker holds them). */
  readonly #drained: Promise<void>
  #partial = ''

  private constructor(readonly label: string, child: ChildProcess, readonly port: number) {
    this.#child = child
    liveChildren.add(child)
    child.stdout?.on('data', (chunk: Buffer) => this.#collect(chunk))
    child.stderr?.on('data', (chunk: Buffer) => this.#collect(chunk))
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
    this.#drained = new Promise<void>((resolve) => {
      child.once('exit', () => {
        void Promise.race([closed, delay(2000)]).then(() => resolve())
      })
    })
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        liveChildren.delete(child)
        resolve({ code, signal })
      })
    })
  }

  static spawn(options: SpawnOptions): NodeProcess {
    const port = options.port ?? 0
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, options.entry), ...(options.args ?? [])], {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', ...(port ? { PORT: String(port) } : {}), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so cleanup can take a cluster primary's workers with it.
      detached: true,
    })
    return new NodeProcess(options.label, child, port)
  }

  get pid(): number {
    if (this.#child.pid === undefined) throw new Error(`${this.label} has no pid (spawn failed)`)
    return this.#child.pid
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** The JSON log lines so far (other output, such as a CLI's stderr, is only in `lines`). */
  logs(): readonly LogLine[] {
    return this.#logs
  }

  tail(count = 30): string {
    return `--- last lines of ${this.label} ---\n${this.lines.slice(-count).map((line) => line.slice(0, 500)).join('\n')}`
  }

  async waitForLogs(what: string, count: number, timeoutMs: number, match: (line: LogLine) => boolean): Promise<LogLine[]> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      // After the exit, the output still in the pipes is read before giving up.
      const exited = !this.running
      if (exited) await this.#drained
      const found = this.#logs.filter(match)
      if (found.length >= count) return found
      if (exited || performance.now() > deadline) {
        throw new Error(`${this.label}: ${this.running ? `timed out after ${timeoutMs} ms` : 'exited'} waiting for ${what} (${found.length} of ${count} seen)\n${this.tail()}`)
      }
      await delay(50)
    }
  }

  async waitForLog(what: string, timeoutMs: number, match: (line: LogLine) => boolean): Promise<LogLine> {
    const [line] = await this.waitForLogs(what, 1, timeoutMs, match)
    return line!
  }

  /** Waits until GET /health answers with a status `accept` takes, by default 200 (a cluster answers once one worker listens). */
  async waitUntilAnswering(timeoutMs = 60_000, accept: (status: number) => boolean = (status) => status === 200): Promise<void> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      if (!this.running) throw new Error(`${this.label} exited (${JSON.stringify(await this.exited)}) before answering\n${this.tail()}`)
      const answer = await httpRequest(this.port, 'GET', '/health', { timeoutMs: 2000 }).catch(() => undefined)
      if (answer && accept(answer.status)) return
      if (performance.now() > deadline) throw new Error(`${this.label} did not answer /health within ${timeoutMs} ms\n${this.tail()}`)
      await delay(100)
    }
  }

  request(method: string, urlPath: string, options: HttpOptions = {}): Promise<HttpAnswer> {
    return httpRequest(this.port, method, urlPath, options)
  }

  /** Sends a signal to this process only (not its group: a cluster primary must relay it itself). */
  signal(signal: NodeJS.Signals): void {
    process.kill(this.pid, signal)
  }

  async waitForExit(timeoutMs: number): Promise<ProcessExit> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs)
    })
    const result = await Promise.race([this.exited, timeout])
    clearTimeout(timer)
    if (result === 'timeout') throw new Error(`${this.label} did not exit within ${timeoutMs} ms\n${this.tail()}`)
    return result
  }

  /** Signals and waits for the exit; kills the group if it does not come. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<ProcessExit> {
    if (!this.running) return this.exited
    this.signal(signal)
    try {
      return await this.waitForExit(timeoutMs)
    } finally {
      this.kill()
    }
  }

  /** Cleanup after anything: SIGKILL to the whole process group if still running. */
  kill(): void {
    killGroup(this.#child)
  }

  #collect(chunk: Buffer): void {
    const text = this.#partial + chunk.toString('utf8')
    const parts = text.split('\n')
    this.#partial = parts.pop() ?? ''
    for (const line of parts) {
      if (line.trim() === '') continue
      this.lines.push(line)
      if (this.lines.length > MAX_KEPT_LINES) this.lines.shift()
      if (!line.startsWith('{')) continue
      try {
        this.#logs.push(JSON.parse(line) as LogLine)
      } catch {
        // not a log line after all
      }
    }
  }
}

/** Log message tests: pino's `msg`, or '' for a line without one. */
export function messageOf(line: LogLine): string {
  return typeof line.msg === 'string' ? line.msg : ''
}
