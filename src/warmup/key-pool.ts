// Listing and warming keys: bounded concurrency, a timeout per call, and no single key able
// to stop the rest. Kept apart from the runner so the run bookkeeping stays readable.
import { errorMessage } from './logger.ts'
import type { WarmTarget } from './targets.ts'

export interface PlannedKey {
  key: string
  target: string
  group: string
  warm: () => Promise<void>
}

export interface ListingFailure {
  target: string
  group: string
  message: string
  durationMs: number
}

export interface KeyResult {
  planned: PlannedKey
  ok: boolean
  durationMs: number
  error?: string
}

/** Runs fn, but stops waiting after timeoutMs. A late rejection stays handled (race subscribes to it). */
export async function withTimeout(fn: () => Promise<unknown> | unknown, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    await Promise.race([Promise.resolve().then(fn), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Asks every target for its keys, all at once (listing is usually one query each).
 * A key produced twice (two targets, or one target repeating itself) is warmed once.
 */
export async function planKeys(targets: readonly WarmTarget[], timeoutMs: number): Promise<{ keys: PlannedKey[]; listingFailures: ListingFailure[]; perTarget: Map<string, number> }> {
  const listed = await Promise.all(targets.map(async (target) => {
    const started = performance.now()
    let keys: Awaited<ReturnType<WarmTarget['keys']>> = []
    try {
      await withTimeout(async () => {
        keys = await target.keys()
      }, timeoutMs)
      return { target, keys, failure: undefined }
    } catch (error) {
      const failure: ListingFailure = { target: target.name, group: target.group, message: `listing keys failed: ${errorMessage(error)}`, durationMs: performance.now() - started }
      return { target, keys: [], failure }
    }
  }))
  const seen = new Set<string>()
  const keys: PlannedKey[] = []
  const listingFailures: ListingFailure[] = []
  const perTarget = new Map<string, number>()
  for (const { target, keys: targetKeys, failure } of listed) {
    if (failure) listingFailures.push(failure)
    let count = 0
    for (const warmKey of targetKeys) {
      if (seen.has(warmKey.key)) continue
      seen.add(warmKey.key)
      count += 1
      keys.push({ key: warmKey.key, target: target.name, group: target.group, warm: () => warmKey.warm() })
    }
    perTarget.set(target.name, count)
  }
  return { keys, listingFailures, perTarget }
}

/**
 * Warms keys with at most `concurrency` in flight. `shouldStop` is checked before each key
 * so an aborted run finishes the keys in flight and starts no new one.
 */
export async function warmKeys(keys: readonly PlannedKey[], options: { concurrency: number; timeoutMs: number; shouldStop: () => boolean; onResult: (result: KeyResult) => void }): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < keys.length && !options.shouldStop()) {
      const planned = keys[next++]!
      const started = performance.now()
      try {
        await withTimeout(planned.warm, options.timeoutMs)
        options.onResult({ planned, ok: true, durationMs: performance.now() - started })
      } catch (error) {
        options.onResult({ planned, ok: false, durationMs: performance.now() - started, error: errorMessage(error) })
      }
    }
  }
  const workers = Math.max(1, Math.min(options.concurrency, keys.length))
  await Promise.all(Array.from({ length: workers }, worker))
}
