// One embedded deployment (a PGlite directory in a temporary directory) and its server process,
// for the operations tests: the server is found the way the CLI finds it, through its runtime file.
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { readRuntimeFile, type RuntimeFileContent } from '../../src/operations/runtime-file.ts'
import { httpRequest, NodeProcess, pollFor, type HttpAnswer, type HttpOptions } from '../helpers/process-server.ts'

export const START_TIMEOUT_MS = 240_000

/** A pid that belonged to a process that has exited. */
export const deadPid = (): number => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout)

export class EmbeddedDeployment {
  server: NodeProcess | undefined
  announced: RuntimeFileContent | undefined

  private constructor(readonly dir: string) {}

  static async create(label: string): Promise<EmbeddedDeployment> {
    return new EmbeddedDeployment(await mkdtemp(path.join(tmpdir(), `${label}-`)))
  }

  get dataDir(): string {
    return path.join(this.dir, 'db')
  }

  get runtimeFile(): string {
    return `${this.dataDir}.server.json`
  }

  get logFile(): string {
    return path.join(this.dir, 'backend.log')
  }

  /** The server's settings: no boot warmup and no schedule, so every warm key was warmed on request. */
  serverEnv(): Record<string, string> {
    return { PGLITE_DIR: this.dataDir, WARMUP_ON_BOOT: 'false', SCHEDULER: 'off', WARM_LIST_MAX_FILTERS: '0', LOG_FILE: this.logFile }
  }

  /** The CLI gets only the data directory: it finds the server by itself. */
  cliEnv(): Record<string, string> {
    return { PGLITE_DIR: this.dataDir, WARM_LIST_MAX_FILTERS: '0' }
  }

  spawnServer(label = 'embedded server', env: Record<string, string> = {}): NodeProcess {
    return NodeProcess.spawn({ label, entry: 'src/server.ts', env: { ...this.serverEnv(), PORT: '0', ...env } })
  }

  /** Starts the server and waits for its runtime file. */
  async start(): Promise<void> {
    const server = this.spawnServer()
    this.server = server
    this.announced = await pollFor('the runtime file of the new server', START_TIMEOUT_MS, () => {
      if (!server.running) throw new Error(`server exited\n${server.tail()}`)
      const content = readRuntimeFile(this.runtimeFile)
      return content?.pid === server.pid ? content : undefined
    }, 100).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${server.tail()}`)
    })
  }

  request(method: string, urlPath: string, options: HttpOptions = {}): Promise<HttpAnswer> {
    return httpRequest(Number(new URL(this.announced!.url).port), method, urlPath, { timeoutMs: 30_000, ...options })
  }

  async cleanup(): Promise<void> {
    await this.server?.stop('SIGTERM', 30_000).catch(() => this.server?.kill())
    await rm(this.dir, { recursive: true, force: true })
  }
}
