// Small tools for the cache tests: polling with a deadline instead of fixed sleeps, and a
// loader whose completion the test controls.
import { delay, poll } from '../helpers/wait.ts'

export { delay as sleep }

/**
 * Calls `probe` every `intervalMs` until it returns something other than undefined, and
 * returns that; fails with `what` after `timeoutMs`. Events that cross processes or wait on
 * timers are asserted this way, so a slow machine makes the test slower, not red.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const found = await poll(what, options.timeoutMs ?? 10_000, async () => {
    const value = await probe()
    return value === undefined ? undefined : { value }
  }, { intervalMs: options.intervalMs ?? 25, reportErrors: true })
  return found.value
}

export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** A loader that counts its calls and returns what `produce` gives for the call number (1-based). */
export function countingLoader(produce: (call: number) => unknown | Promise<unknown>): { load: () => Promise<unknown>; readonly calls: number } {
  let calls = 0
  return {
    load: async () => {
      calls += 1
      return produce(calls)
    },
    get calls() {
      return calls
    },
  }
}
