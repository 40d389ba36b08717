// Which real servers this test run has. scripts/test.mjs sets these only when the server
// answers (and, with CI=true, refuses to run without them). A suite that needs one registers
// its tests only when it is set, and otherwise registers itself as skipped with the reason
// (skipUnlessServers), so the runner's summary counts what did not run.
import { test } from 'node:test'

export const testDatabaseUrl: string | undefined = process.env.TEST_DATABASE_URL || undefined
export const testRedisUrl: string | undefined = process.env.TEST_REDIS_URL || undefined

let sequence = 0
/** A name unique to this process and call: schemas, key prefixes, queue names. */
export function uniqueName(prefix: string): string {
  sequence += 1
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${sequence}`.toLowerCase()
}

export type Server = 'postgres' | 'redis'

/** The servers of `needs` this run lacks, as a skip reason; undefined when all are there. */
export function missingServers(needs: readonly Server[]): string | undefined {
  const missing = needs.filter((server) => (server === 'postgres' ? !testDatabaseUrl : !testRedisUrl))
  if (missing.length === 0) return undefined
  const names = missing.map((server) => (server === 'postgres' ? 'PostgreSQL (TEST_DATABASE_URL)' : 'Redis (TEST_REDIS_URL)'))
  return `needs ${names.join(' and ')}, not answering in this run`
}

/**
 * Registers one skipped test named `suite` when the run lacks a server of `needs`, so the
 * runner counts it; returns whether the servers are there (the caller registers the real tests).
 */
export function skipUnlessServers(suite: string, needs: readonly Server[]): boolean {
  const reason = missingServers(needs)
  if (reason === undefined) return true
  test(suite, { skip: reason }, () => {})
  return false
}
