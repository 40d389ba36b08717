// A request held in flight across a cluster's shutdown. The cluster's processes reach PostgreSQL
// through a FaultProxy; the test holds the proxy, sends a cold request (one school's detail page,
// which nothing has read yet, so the worker must query the database), and, with that query stuck
// in the proxy, signals the cluster. Only once every worker has logged that it is shutting down
// does the proxy let the query through: the request must then still be answered, with a 200.
import assert from 'node:assert/strict'
import type { Database } from '../../src/db/database.ts'
import type { FaultProxy } from '../helpers/faults-proxy.ts'
import { delay, messageOf, type HttpAnswer, type NodeProcess } from '../helpers/process-server.ts'

export interface HeldRequestOutcome {
  answer: HttpAnswer
  /** From the signal to the answer, and how long the query was held after the workers began stopping. */
  answeredAfterMs: number
  heldAfterShutdownMs: number
}

const HOLD_AFTER_SHUTDOWN_MS = 300

export async function requestInFlightAcrossShutdown(options: { primary: NodeProcess; workerPids: number[]; proxy: FaultProxy; db: Database; signal: () => void }): Promise<HeldRequestOutcome> {
  const { primary, workerPids, proxy, db } = options
  const [school] = await db.query<{ school_no: string }>('SELECT school_no FROM schools ORDER BY random() LIMIT 1')
  proxy.hold()
  let released = false
  try {
    // Settled into a value at once: a request cut while the test waits must fail the test, not escape as an unhandled rejection.
    const inFlight = primary.request('GET', `/api/schools/${school!.school_no}`, { timeoutMs: 30_000 }).then((answer) => ({ answer }), (error: unknown) => ({ error }))
    await proxy.whenHeld(10_000)
    const signalledAt = Date.now()
    options.signal()
    const stopping = (pid: number): boolean => primary.logs().some((line) => line.pid === pid && messageOf(line).startsWith(`worker ${pid} shutting down`))
    await primary.waitForLogs('every worker to begin its shutdown', 1, 10_000, () => workerPids.every(stopping))
    const shutdownSeenAt = Date.now()
    await delay(HOLD_AFTER_SHUTDOWN_MS)
    proxy.release()
    released = true
    const settled = await inFlight
    if ('error' in settled) assert.fail(`the request in flight was lost: ${(settled.error as Error).message}\n${primary.tail()}`)
    const { answer } = settled
    assert.equal(answer.status, 200, answer.body)
    assert.equal((JSON.parse(answer.body) as { schoolNo: string }).schoolNo, school!.school_no)
    return { answer, answeredAfterMs: Date.now() - signalledAt, heldAfterShutdownMs: Date.now() - shutdownSeenAt }
  } finally {
    if (!released) proxy.release()
  }
}
