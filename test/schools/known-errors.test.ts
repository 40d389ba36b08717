// 404s (an unknown school) and pages past the end are remembered briefly in process memory:
// repeating one costs no database query, a warmup that loads the key forgets it, and
// CACHE_TTL_ERRORS=0 turns it off.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'

describe('error answers cached briefly in the local tier', () => {
  let current: TestApp | undefined
  let off: TestApp | undefined
  before(async () => {
    current = await createTestApp({ backend: 'pglite' })
    off = await createTestApp({ backend: 'pglite', database: current.database, env: { CACHE_TTL_ERRORS: '0' } })
    // Filter options are read by every list miss; load them once so only the list's own queries count.
    for (const app of [current, off]) await app.app.inject({ method: 'GET', url: '/api/schools/filters?level=secondary' })
  })
  after(async () => {
    await off?.close()
    await current?.close()
  })

  const queriesFor = async (app: TestApp, url: string): Promise<{ status: number; body: string; queries: number }> => {
    const before = app.runtime.db.counter.total
    const response = await app.app.inject({ method: 'GET', url })
    return { status: response.statusCode, body: response.body, queries: app.runtime.db.counter.total - before }
  }

  test('an unknown school: the first 404 costs a query, the next ones none', async () => {
    const url = '/api/schools/999999999999'
    const first = await queriesFor(current!, url)
    assert.equal(first.status, 404)
    assert.ok(first.queries >= 1)
    for (let repeat = 0; repeat < 5; repeat += 1) {
      const again = await queriesFor(current!, url)
      assert.deepEqual([again.status, again.body, again.queries], [404, first.body, 0])
    }
    assert.ok((await queriesFor(off!, url)).queries >= 1)
    assert.ok((await queriesFor(off!, url)).queries >= 1, 'with CACHE_TTL_ERRORS=0 every 404 is a query')
  })

  test('a page past the end: the first 400 costs a query, the next ones none', async () => {
    const url = '/api/schools/secondary?pageSize=100&page=500&category=aided'
    const first = await queriesFor(current!, url)
    assert.equal(first.status, 400)
    assert.match(first.body, /past the last page/)
    assert.ok(first.queries >= 1)
    const again = await queriesFor(current!, url)
    assert.deepEqual([again.status, again.body, again.queries], [400, first.body, 0])
  })

  test('a school that appears is served once a warmup loads it', async () => {
    const page = JSON.parse((await current!.app.inject({ method: 'GET', url: '/api/schools/secondary?pageSize=1' })).body) as { items: { schoolNo: string }[] }
    const schoolNo = page.items[0]!.schoolNo
    // Make it unknown for a moment, remember the 404, then bring it back and warm it.
    await current!.runtime.db.query('UPDATE schools SET school_no = $1 WHERE school_no = $2', ['888888888888', schoolNo])
    const url = `/api/schools/${schoolNo}`
    assert.equal((await queriesFor(current!, url)).status, 404)
    assert.equal((await queriesFor(current!, url)).status, 404)
    await current!.runtime.db.query('UPDATE schools SET school_no = $1 WHERE school_no = $2', [schoolNo, '888888888888'])
    await current!.runtime.reads.warmDetail(schoolNo)
    assert.equal((await queriesFor(current!, url)).status, 200)
  })
})
