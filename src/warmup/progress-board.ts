// The run-progress board in Redis: one small JSON value per run, `<prefix>:<runId>`, written by
// the process that runs it (run-progress.ts throttles the writes) and read by whichever worker or
// instance answers the dashboard. Every write sets an expiry, so what a run leaves behind goes
// away by itself: a run's value lives RUNNING_TTL past its last write (a process that dies
// mid-run leaves nothing for long), a finished run's only FINISHED_TTL. The connection is opened
// on first use, fails fast while Redis is away, and a failed read is an empty answer.
import { Redis } from 'ioredis'
import type { RunProgress, RunProgressBoard } from './run-progress.ts'

const RUNNING_TTL_SECONDS = 600
const FINISHED_TTL_SECONDS = 60
const COMMAND_TIMEOUT_MS = 1000
/** Reads ask for at most this many runs: the dashboard asks for the few that are running. */
const MAX_READ = 20

export interface RedisProgressBoardOptions {
  url: string
  /** Keys are `<prefix>:<runId>`; a deployment's processes share deploymentBoardPrefix(REDIS_PREFIX). */
  prefix: string
}

/** The board every process of a deployment (one REDIS_PREFIX) writes and reads. */
export function deploymentBoardPrefix(redisPrefix: string): string {
  return `${redisPrefix}:warmup-progress`
}

export class RedisProgressBoard implements RunProgressBoard {
  readonly #options: RedisProgressBoardOptions
  #connection: Redis | undefined

  constructor(options: RedisProgressBoardOptions) {
    this.#options = options
  }

  async publish(progress: RunProgress): Promise<void> {
    const ttl = progress.finished ? FINISHED_TTL_SECONDS : RUNNING_TTL_SECONDS
    await this.#redis().set(this.#key(progress.runId), JSON.stringify(progress), 'EX', ttl)
  }

  async read(runIds: readonly string[]): Promise<Map<string, RunProgress>> {
    const found = new Map<string, RunProgress>()
    const wanted = runIds.slice(0, MAX_READ)
    if (wanted.length === 0) return found
    let values: (string | null)[]
    try {
      values = await this.#redis().mget(wanted.map((runId) => this.#key(runId)))
    } catch {
      // The caller shows the run without its progress; the writer logs the outage.
      return found
    }
    wanted.forEach((runId, index) => {
      const progress = parse(values[index])
      if (progress?.runId === runId) found.set(runId, progress)
    })
    return found
  }

  async close(): Promise<void> {
    this.#connection?.disconnect()
    this.#connection = undefined
  }

  #key(runId: string): string {
    return `${this.#options.prefix}:${runId}`
  }

  #redis(): Redis {
    if (this.#connection) return this.#connection
    const connection = new Redis(this.#options.url, {
      // Queue commands only until the first connect (a process's first publication), then fail fast.
      enableOfflineQueue: true,
      maxRetriesPerRequest: 1,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    })
    // Failures reach the callers as rejected commands; without a listener ioredis prints each reconnect attempt.
    connection.on('error', () => {})
    connection.once('ready', () => {
      connection.options.enableOfflineQueue = false
    })
    this.#connection = connection
    return connection
  }
}

/** A stored value, if it has the shape this module writes (anything else is ignored). */
function parse(value: string | null | undefined): RunProgress | undefined {
  if (!value) return undefined
  try {
    const progress = JSON.parse(value) as Partial<RunProgress>
    if (typeof progress.runId !== 'string' || !Array.isArray(progress.groups) || typeof progress.keys !== 'number' || typeof progress.completed !== 'number') return undefined
    return progress as RunProgress
  } catch {
    return undefined
  }
}
