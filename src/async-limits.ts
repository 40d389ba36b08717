// Bounded waiting and bounded concurrency, written once: a timeout aborts an AbortSignal, a
// pool is p-limit. Callers that must not hang on a dependency (a warm key, a part of the admin
// status, a queue closing on a Redis that is gone) wrap the call here instead of racing timers.
import pLimit from 'p-limit'

/**
 * `fn`'s result, or a rejection with `message` once `ms` have passed. `fn` gets a signal that
 * aborts then, to stop work it is able to stop; a late result is dropped and a late rejection
 * stays handled. The timer is a plain (ref'd) one, not AbortSignal.timeout's unref'd one: a call
 * that hangs with nothing else pending must still time out and be reported, not end the process.
 */
export function withTimeout<T>(fn: (signal: AbortSignal) => T | PromiseLike<T>, ms: number, message = `timed out after ${ms} ms`): Promise<T> {
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(new Error(message))
    }, ms)
  })
  return Promise.race([Promise.resolve().then(() => fn(controller.signal)), timeout]).finally(() => clearTimeout(timer))
}

/** True when `promise` settled within `ms` (a rejection counts as settled); never rejects. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return withTimeout(() => promise.then(() => true, () => true), ms).catch(() => false)
}

/** Runs `fn` for every item with at most `concurrency` calls in flight; resolves when all have. */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  const limit = pLimit(Math.max(1, concurrency))
  await Promise.all(items.map((item) => limit(() => fn(item))))
}
