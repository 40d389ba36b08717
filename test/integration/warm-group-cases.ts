// What each warm group covers, read from config/warm-targets.json and the source file (not from
// the warm-target code), and the check that a group warms exactly that: after clearing the cache
// and running the group, its requests are hits and every other warmable request is a miss.
import assert from 'node:assert/strict'
import type { TestApp } from '../helpers/app.ts'
import { get, warmListQueries } from '../helpers/integration.ts'
import { edbRows } from '../helpers/source-data.ts'

export const schoolNos = edbRows()
  .filter((row) => row['SCHOOL LEVEL'] === 'PRIMARY' || row['SCHOOL LEVEL'] === 'SECONDARY')
  .map((row) => row['SCHOOL NO.']!)

const servable = (level: 'primary' | 'secondary'): string[] => warmListQueries(level).filter((query) => !query.needsOverlay).map((query) => query.url)

export const groupUrls: Record<string, string[]> = {
  // Filter options first: a list miss reads them, so they are checked before any list.
  filters: ['/api/schools/filters?level=primary', '/api/schools/filters?level=secondary'],
  stats: ['/api/schools/stats'],
  primary: servable('primary'),
  secondary: servable('secondary'),
}

/** A spread of school details (the first, the last, and every 97th); the key count covers the rest. */
const detailSample = schoolNos.filter((_, index) => index % 97 === 0 || index === schoolNos.length - 1).map((schoolNo) => `/api/schools/${schoolNo}`)

export interface WarmGroupCase {
  groups: string[]
  /** Which of groupUrls' groups (and 'details') the run must leave warm. */
  covered: string[]
  keys: number
}

export async function assertWarmsExactly(testApp: TestApp, { groups, covered, keys }: WarmGroupCase): Promise<void> {
  const { runtime } = testApp
  await runtime.cache.clear()
  assert.equal((await runtime.cache.stats()).keys, 0)

  const summary = await runtime.runner.run({ groups, trigger: 'test' })
  assert.equal(summary.failed, 0, JSON.stringify(summary.errors))
  assert.equal(summary.keys, keys)
  assert.equal(summary.warmed, keys)
  assert.equal((await runtime.cache.stats()).keys, keys, 'the cache holds exactly the warmed keys')

  if (covered.includes('details')) {
    // Every school's detail page, one by one.
    for (const schoolNo of schoolNos) assert.equal((await get(testApp, `/api/schools/${schoolNo}`)).headers['x-cache'], 'hit', schoolNo)
  }
  for (const [group, urls] of Object.entries(groupUrls)) {
    for (const url of urls) {
      const answer = await get(testApp, url)
      assert.equal(answer.status, 200, `${url}: ${answer.body.slice(0, 200)}`)
      assert.equal(answer.headers['x-cache'], covered.includes(group) ? 'hit' : 'miss', `${url} after warming ${groups.join('+')}`)
    }
  }
  if (!covered.includes('details')) {
    for (const url of detailSample) assert.equal((await get(testApp, url)).headers['x-cache'], 'miss', url)
  }
}
