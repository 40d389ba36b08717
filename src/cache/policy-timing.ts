// A cache policy (TTL class) as bentocache's per-call timing options. bentocache keeps a value
// for `grace` counted from the write, not from the expiry, hence `grace = ttl + graceSeconds`;
// `timeout: 0` is stale-while-revalidate (see response-cache.ts).
import type { CachePolicy } from './cache-types.ts'

export function policyTiming(policy: CachePolicy): { ttl: number; grace: number | false; timeout: number } {
  // bentocache reads a zero TTL as "never expires": a policy bug that would pin values forever.
  if (!(policy.ttlSeconds > 0) || !(policy.graceSeconds >= 0)) {
    throw new TypeError(`Cache policy '${policy.name}' needs ttlSeconds > 0 and graceSeconds >= 0`)
  }
  const ttl = policy.ttlSeconds * 1000
  return { ttl, grace: policy.graceSeconds > 0 ? ttl + policy.graceSeconds * 1000 : false, timeout: 0 }
}
