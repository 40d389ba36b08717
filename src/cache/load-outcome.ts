// Telling a miss from a hit by identity, and what a load left behind. bentocache's getOrSet does
// not say whether it ran the factory; our loader records the entry it produced in a per-call
// record, and bentocache returning that very object means this call loaded it ('miss').
// Anything else was read back from a store and carries its logical expiry: past it, the value
// was served within its grace ('stale').
import { errors } from 'bentocache'
import type { CacheEntry } from './cache-entry.ts'
import type { CacheResult } from './cache-types.ts'
import type { CacheState } from './cache-events.ts'
import { isStoredEntryExpired } from './entry-serializer.ts'

/** What a load produced in this call: bentocache returning this very object means 'miss'. */
export interface CallRecord {
  produced?: CacheEntry
  /** Set when the key was served from the local store instead of the shared tier. */
  local?: CacheResult
}

/** bentocache wraps a loader's error in E_FACTORY_ERROR (twice for a probation load); callers get the loader's own error. */
export function unwrapLoaderError(error: unknown): unknown {
  let unwrapped = error
  while (unwrapped instanceof errors.E_FACTORY_ERROR) unwrapped = unwrapped.cause
  return unwrapped
}

/** Bytes an entry takes in Redis: its body in UTF-8 plus a bound on the header (ETag, times). */
export function entryBytes(entry: CacheEntry): number {
  return entry.identityLength + 200
}

export function stateOf(entry: CacheEntry, call: CallRecord): CacheState {
  return entry === call.produced ? 'miss' : isStoredEntryExpired(entry) ? 'stale' : 'hit'
}
