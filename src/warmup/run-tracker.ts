// How a warmup run is identified and awaited, in one place: the run id format (one pattern
// for the runner, the schedulers, the queue's job ids and the admin route), the runs this
// process finished lately, the listeners waiting for a run this process may be handed by a
// queue, and the lookup that settles a run from memory first and the shared history second.
import { randomBytes } from 'node:crypto'
import { InvalidParameterError } from '../errors.ts'
import type { WarmupHistory } from './history.ts'
import type { WarmupListener, WarmupRunRecord, WarmupSummary } from './summary.ts'

/** Letters, digits, '_', '.', '-'; no ':' (BullMQ job ids are built from it and ':' is its key separator). */
export const RUN_ID_PATTERN = '^[A-Za-z0-9][\\w.-]{0,99}$'
const RUN_ID = new RegExp(RUN_ID_PATTERN)

export function newRunId(now = Date.now()): string {
  return `wu-${now.toString(36)}-${randomBytes(4).toString('hex')}`
}

export function assertRunId(runId: string): string {
  if (!RUN_ID.test(runId)) throw new InvalidParameterError('runId', `'${runId}' is not a valid run id`)
  return runId
}

/** What a caller gets back when it asks for a run, whichever backend takes it. */
export interface AcceptedRun {
  runId: string
  /** The request joined a run already queued or running. */
  alreadyRunning: boolean
  /** Settles with the run's summary, or its history record when another process ran it. */
  readonly done: Promise<WarmupSummary | WarmupRunRecord>
}

const FINISHED_KEPT = 50

export class RunTracker {
  readonly #finished = new Map<string, WarmupSummary>()
  readonly #followers = new Map<string, WarmupListener>()

  constructor(private readonly history?: Pick<WarmupHistory, 'get'>) {}

  /** Called once per run this process finished; the last FINISHED_KEPT are kept. */
  recordFinished(summary: WarmupSummary): void {
    this.#finished.delete(summary.runId)
    this.#finished.set(summary.runId, summary)
    if (this.#finished.size > FINISHED_KEPT) this.#finished.delete(this.#finished.keys().next().value!)
  }

  /** The summary of a run this process finished lately. */
  finished(runId: string): WarmupSummary | undefined {
    return this.#finished.get(runId)
  }

  /**
   * Hands `listener` to run `runId` should this process be the one to run it (a CLI that
   * queued a run and works the queue itself shows its progress). Returns the unsubscribe.
   */
  follow(runId: string, listener: WarmupListener): () => void {
    this.#followers.set(runId, listener)
    return () => {
      this.#followers.delete(runId)
    }
  }

  follower(runId: string | undefined): WarmupListener | undefined {
    return runId === undefined ? undefined : this.#followers.get(runId)
  }

  /**
   * A finished run: from this process's memory first (it holds the summary even while the
   * database is down), else from the shared history. Undefined while it is unknown or running.
   */
  async settled(runId: string): Promise<WarmupSummary | WarmupRunRecord | undefined> {
    const here = this.#finished.get(runId)
    if (here) return here
    const record = await this.history?.get(runId)
    return record && record.status !== 'running' ? record : undefined
  }
}
