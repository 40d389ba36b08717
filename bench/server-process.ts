// Parent side of a server child: forks it under tsx, waits for its port, asks it for its
// database query count, and stops it (by IPC, then by its pid if it does not go).
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startScriptNodeFlags } from './boot-memory.ts'
import type { ChildMessage, MemoryFigures, ParentMessage, Payload, ServerMode } from './protocol.ts'

const CHILD_ENTRY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'server-child.ts')
// Generous: the app server runs its default warmup before it answers, minutes on a saturated machine.
const START_TIMEOUT_MS = 300_000
const REPLY_TIMEOUT_MS = 5_000

export interface ServerProcessOptions {
  mode: ServerMode
  /** Shown in errors and the report. */
  label: string
  env: Record<string, string>
  payload?: Payload
}

export class ServerProcess {
  private constructor(
    readonly label: string,
    readonly port: number,
    readonly warmupMs: number | undefined,
    private readonly child: ChildProcess,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    const child = fork(CHILD_ENTRY, [options.mode], {
      // FSTDEP023 is src/app.ts's disableRequestLogging deprecation: known, and noise here.
      // The node flags of `npm start` (heap sizing), so the servers measured are the ones deployed.
      execArgv: ['--import', 'tsx', '--disable-warning=FSTDEP023', ...startScriptNodeFlags()],
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    if (options.payload) child.send({ type: 'payload', payload: options.payload } satisfies ParentMessage)
    try {
      const ready = await nextMessage(child, START_TIMEOUT_MS, (message) => message.type === 'ready' || message.type === 'failed')
      if (ready.type === 'failed') throw new Error(`${options.label} server failed to start:\n${ready.message}`)
      if (ready.type !== 'ready') throw new Error('unreachable')
      return new ServerProcess(options.label, ready.port, ready.warmupMs, child)
    } catch (error) {
      child.kill('SIGKILL')
      throw error
    }
  }

  /** Statements sent to PostgreSQL (0 without a database) and CPU time used since the server started, and its memory now. */
  async counters(): Promise<{ queries: number; cpuMicros: number; memory: MemoryFigures }> {
    this.child.send({ type: 'counters' } satisfies ParentMessage)
    const reply = await nextMessage(this.child, REPLY_TIMEOUT_MS, (message) => message.type === 'counters')
    if (reply.type !== 'counters') throw new Error('unreachable')
    return { queries: reply.queries, cpuMicros: reply.cpuMicros, memory: reply.memory }
  }

  /** Starts a CPU profile of this server (inspector, 200 µs sampling). */
  startProfile(): void {
    this.child.send({ type: 'profile-start' } satisfies ParentMessage)
  }

  /** Stops the CPU profile and writes it to `file` (.cpuprofile, for Chrome DevTools or profile-summary.ts). */
  async stopProfile(file: string): Promise<void> {
    this.child.send({ type: 'profile-stop', file } satisfies ParentMessage)
    const reply = await nextMessage(this.child, 30_000, (message) => message.type === 'profiled' || message.type === 'failed')
    if (reply.type === 'failed') throw new Error(`${this.label}: profile failed: ${reply.message}`)
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = once(this.child, 'exit')
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ParentMessage)
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 8000)
    await exited
    clearTimeout(timer)
  }
}

function nextMessage(child: ChildProcess, timeoutMs: number, accept: (message: ChildMessage) => boolean): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    const onMessage = (message: ChildMessage): void => {
      if (!accept(message)) return
      cleanup()
      resolve(message)
    }
    const onExit = (code: number | null): void => {
      cleanup()
      reject(new Error(`server child exited (code ${code}) before answering`))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`server child did not answer within ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}
