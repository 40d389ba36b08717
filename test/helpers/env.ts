// Which real servers this test run has. scripts/test.mjs sets these only when the server
// answers (and, with CI=true, refuses to run without them), so a suite that needs one
// registers itself only when it is set.
export const testDatabaseUrl: string | undefined = process.env.TEST_DATABASE_URL || undefined
export const testRedisUrl: string | undefined = process.env.TEST_REDIS_URL || undefined

let sequence = 0
/** A name unique to this process and call: schemas, key prefixes, queue names. */
export function uniqueName(prefix: string): string {
  sequence += 1
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${sequence}`.toLowerCase()
}
