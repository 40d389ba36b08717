// What the cache stores: the response body already serialised, and its strong ETag.
// Serialising once, when the loader runs, is what makes a hit cheap: the HTTP layer sends
// `body` as it is and compares `etag` with If-None-Match, with no JSON.stringify per request.
import { createHash } from 'node:crypto'

export interface CacheEntry {
  /** The JSON document, exactly the bytes sent to clients. */
  readonly body: string
  /** Strong validator: a quoted hash of `body`, so equal bodies get equal ETags on every instance. */
  readonly etag: string
  /** Epoch milliseconds when the loader produced this body. */
  readonly storedAt: number
}

/** `"<sha1 of body, base64url>"`: strong, 29 characters, the same in every process. */
export function strongEtag(body: string): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

/** Serialises what a loader returned. A loader must return something JSON can represent. */
export function createEntry(value: unknown, now: number = Date.now()): CacheEntry {
  const body = JSON.stringify(value) as string | undefined
  if (body === undefined) {
    // undefined, a function or a symbol: a bug in the loader, not a cacheable answer.
    throw new TypeError(`A cache loader returned ${typeof value}, which has no JSON form`)
  }
  return { body, etag: strongEtag(body), storedAt: now }
}
