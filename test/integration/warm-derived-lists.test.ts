// The list pages the warmup derives from the data (WARM_LIST_MAX_FILTERS, WARM_LIST_PAGES):
// every combination of up to two filters, one code each, that has schools, pages 1..2. The
// expected combinations are counted here from the schools the API lists, a different route to
// them than the warm target's GROUPING SETS statement.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { closeTestApp, get, preferredBackend, warmListQueries } from '../helpers/integration.ts'

const FIELDS = {
  primary: ['district', 'schoolNet', 'category', 'schoolGroup', 'gender', 'religion', 'session'],
  secondary: ['district', 'banding', 'category', 'schoolGroup', 'gender', 'religion', 'session'],
} as const
type Level = keyof typeof FIELDS
type Item = Record<string, { code: string } | null>

async function allItems(testApp: TestApp, level: Level): Promise<Item[]> {
  const items: Item[] = []
  for (let page = 1; ; page += 1) {
    const answer = await get(testApp, `/api/schools/${level}?pageSize=100&page=${page}`)
    assert.equal(answer.status, 200, answer.body)
    const body = JSON.parse(answer.body) as { items: Item[]; totalPages: number }
    items.push(...body.items)
    if (page >= body.totalPages) return items
  }
}

/** Query string (fields in FIELDS order) to the number of schools it matches. */
function combinations(level: Level, items: Item[]): Map<string, number> {
  const counts = new Map<string, number>()
  const fields = FIELDS[level]
  for (const item of items) {
    const codes = fields.map((field) => item[field]?.code)
    fields.forEach((first, i) => {
      if (codes[i] === undefined) return
      const single = `${first}=${codes[i]}`
      counts.set(single, (counts.get(single) ?? 0) + 1)
      fields.forEach((second, j) => {
        if (j <= i || codes[j] === undefined) return
        const pair = `${single}&${second}=${codes[j]}`
        counts.set(pair, (counts.get(pair) ?? 0) + 1)
      })
    })
  }
  return counts
}

describe(`derived warm lists [${preferredBackend}, memory]`, () => {
  let testApp: TestApp | undefined
  before(async () => {
    testApp = await createTestApp({ backend: preferredBackend, env: { WARM_LIST_MAX_FILTERS: '2', WARM_LIST_PAGES: '2' } })
  })
  after(() => closeTestApp(testApp))

  for (const level of ['primary', 'secondary'] as const) {
    test(`${level}: every filter combination with schools is warm, pages 1-2, and nothing empty`, async () => {
      const app = testApp!
      const expected = combinations(level, await allItems(app, level))
      assert.ok(expected.size > 100, `${expected.size} combinations`)
      const urls = [...expected].flatMap(([query, total]) => [`/api/schools/${level}?${query}`, ...(total > 20 ? [`/api/schools/${level}?${query}&page=2`] : [])])

      await app.runtime.cache.clear()
      const summary = await app.runtime.runner.run({ groups: [level], trigger: 'test' })
      assert.equal(summary.failed, 0, JSON.stringify(summary.errors))
      // The configured queries outside that space: the unfiltered first page (banding ones are
      // skipped without an overlay; the others are combinations above).
      const unfiltered = warmListQueries(level).filter((query) => !query.url.includes('?'))
      assert.equal(summary.keys, urls.length + unfiltered.length)

      for (const url of urls) {
        const answer = await get(app, url)
        assert.equal(answer.headers['x-cache'], 'hit', url)
        const query = url.slice(url.indexOf('?') + 1).replace(/&page=2$/, '')
        assert.equal((JSON.parse(answer.body) as { total: number }).total, expected.get(query), url)
      }
      // A pair of codes no school has was not warmed (it is a valid, empty page).
      const singles = [...expected.keys()].filter((query) => !query.includes('&'))
      const field = (query: string): string => query.slice(0, query.indexOf('='))
      const order = (query: string): number => (FIELDS[level] as readonly string[]).indexOf(field(query))
      const empty = singles.flatMap((first) => singles.filter((second) => order(second) > order(first)).map((second) => `${first}&${second}`)).find((query) => !expected.has(query))
      assert.ok(empty, 'some pair of codes matches no school')
      const answer = await get(app, `/api/schools/${level}?${empty}`)
      assert.equal(answer.status, 200)
      assert.equal(answer.headers['x-cache'], 'miss', empty)
    })
  }
})
