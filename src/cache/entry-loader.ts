// Running a caller's loader into a cache entry, for every path that loads (reads, refreshes,
// probation): the failure backoff (a key whose load just failed is not loaded again at once),
// the load limits (requests' loads are bounded and shed; a warmup's are not), the data
// generation each entry records (docs/generations.md), and the expiry epoch: a load in flight
// across an expiry of everything may hold data from before the change that caused it, so it is
// stored already stale, never kept as fresh for a whole TTL.
import type { errors } from 'bentocache'
import type { GetSetFactoryContext } from 'bentocache/types'
import type { Logger } from '../logger.ts'
import { BusyError } from '../errors.ts'
import { createEntry, type CacheEntry } from './cache-entry.ts'
import type { CachePolicy } from './cache-types.ts'
import { FailureBackoff } from './failure-backoff.ts'
import { LoadLimiter, type LoadLimits } from './load-limiter.ts'
import { unwrapLoaderError, type CallRecord } from './load-outcome.ts'

type FactoryError = InstanceType<typeof errors.E_FACTORY_ERROR>

export class EntryLoader {
  readonly backoff: FailureBackoff
  readonly limiter: LoadLimiter | undefined
  /** The data generation last told (setGeneration); undefined: unknown, nothing is renewed. */
  generation: number | undefined
  /** Counts the expiries of everything (here, or announced by another instance). */
  #expiries = 0
  /**
   * When the last of those began. A copy in probation stored before it holds data from before the
   * change (an import's expiry reaches the local store only after every shared key): it is never
   * promoted to the shared tier, where it would pass for fresh for a whole TTL; the key is loaded.
   */
  #expiredAt = Number.NEGATIVE_INFINITY

  constructor(options: { refreshFailureBackoffMs?: number | undefined; loadLimits?: LoadLimits | undefined }, private readonly logger: Logger | undefined) {
    this.backoff = new FailureBackoff(options.refreshFailureBackoffMs ?? 5000)
    if (options.loadLimits) this.limiter = new LoadLimiter(options.loadLimits)
  }

  /** Notes an expiry of everything, here or announced by another instance. */
  expiredEverything(): void {
    this.#expiries += 1
    this.#expiredAt = Date.now()
  }

  /** Whether an entry stored at `storedAt` predates the last expiry of everything. */
  storedBeforeExpiry(storedAt: number): boolean {
    return storedAt <= this.#expiredAt
  }

  /** A bentocache factory's work: `forced` (a warmup) skips the backoff and the load limits. */
  async load(key: string, policy: CachePolicy, loader: () => Promise<unknown>, call: CallRecord, forced: boolean, context: GetSetFactoryContext): Promise<CacheEntry> {
    if (!forced) {
      const failure = this.backoff.recent(key)
      if (failure !== undefined) throw failure
    }
    const generation = this.generation
    const expiries = this.#expiries
    const value = forced || !this.limiter ? await loader() : await this.limiter.run(loader)
    const now = Date.now()
    const entry = await createEntry(value, now, generation)
    // A value true only until a moment (an application window opening) is fresh only until then.
    const { validUntil } = entry.stamp
    if (this.#expiries !== expiries) context.setOptions({ ttl: 1 })
    else if (validUntil !== undefined && validUntil - now < policy.ttlSeconds * 1000) context.setOptions({ ttl: Math.max(1000, validUntil - now) })
    this.backoff.forget(key)
    call.produced = entry
    return entry
  }

  /** bentocache's onFactoryError: a background reload that failed starts the key's backoff (the stale value is served). */
  backgroundFailed(key: string, policy: CachePolicy, error: FactoryError): void {
    if (!error.isBackgroundFactory) return // the caller gets this one
    const cause = unwrapLoaderError(error)
    // Shed for load: not the database failing, so no backoff (the stale value is served meanwhile).
    if (cause instanceof BusyError) return
    // A rethrown backoff error must not extend its own backoff.
    if (!this.backoff.record(key, cause)) return
    this.logger?.warn({ err: cause, key, policy: policy.name }, 'cache: background reload failed; serving the stale value')
  }
}
