// Issue 10: a burst of cold loads beyond LOAD_CONCURRENCY + LOAD_QUEUE is shed with 503 E_BUSY
// and retry-after, never a 5xx of another kind, while warm keys keep answering 200 from L1.
// The database is held deterministically: another session locks the schools table, so the
// admitted loads stay running (blocked) for as long as the test wants, whatever the machine's load.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { testDatabaseUrl } from '../helpers/env.ts'
import { eventually, get, type Answer } from '../helpers/integration.ts'

const CONCURRENCY = 2
const QUEUE = 3
const BURST = 30

const skip = testDatabaseUrl ? false : 'needs PostgreSQL (TEST_DATABASE_URL)'

describe('load shedding [postgres]', { skip }, () => {
  let testApp: TestApp | undefined

  before(async () => {
    testApp = await createTestApp({
      backend: 'postgres',
      // The statement timeout must not end the held loads: only the limiter may answer 503 here.
      env: { LOAD_CONCURRENCY: String(CONCURRENCY), LOAD_QUEUE: String(QUEUE), LOAD_QUEUE_WAIT_MS: '200', DATABASE_TIMEOUT_MS: '120000' },
    })
  })
  after(async () => {
    await testApp?.close()
  })

  test(`a burst of ${BURST} distinct cold queries: ${CONCURRENCY} load, the rest get 503 E_BUSY with retry-after; warm keys stay 200`, async () => {
    const app = testApp!
    const summary = await app.runtime.runner.run({ groups: ['all'], trigger: 'test' })
    assert.equal(summary.failed, 0)
    const warm = ['/api/schools/stats', '/api/schools/filters?level=primary', '/api/schools/primary']
    for (const url of warm) assert.equal((await get(app, url)).headers['x-cache'], 'hit', url)

    const filters = (await get(app, '/api/schools/filters?level=primary')).json<{ filters: Record<string, { code: string }[]> }>()
    const district = filters.filters.district![0]!.code
    const locker = new pg.Client({ connectionString: testDatabaseUrl })
    await locker.connect()
    try {
      await locker.query('BEGIN')
      await locker.query(`LOCK TABLE ${app.config.databaseSchema}.schools IN ACCESS EXCLUSIVE MODE`)

      const answers: Answer[] = []
      const burst = Array.from({ length: BURST }, (_unused, index) => get(app, `/api/schools/primary?pageSize=${index + 1}&district=${district}`).then((answer) => {
        answers.push(answer)
        return answer
      }))
      // Everything beyond the running loads is answered while they are still held.
      await eventually(() => (answers.length >= BURST - CONCURRENCY ? true : undefined), 60_000, 'the shed requests to be answered')
      for (const url of warm) {
        const answer = await get(app, url)
        assert.deepEqual([answer.status, answer.headers['x-cache']], [200, 'hit'], `${url} while the database is held`)
      }
      assert.equal(answers.length, BURST - CONCURRENCY, `the admitted loads are still held: ${answers.map((answer) => `${answer.status} ${answer.body.slice(0, 80)}`).join('; ')}`)
      const stats = await app.runtime.cache.stats()
      assert.equal(stats.loads?.active, CONCURRENCY)

      await locker.query('COMMIT')
      const all = await Promise.all(burst)
      const shed = all.filter((answer) => answer.status === 503)
      const served = all.filter((answer) => answer.status === 200)
      assert.equal(served.length, CONCURRENCY, all.map((answer) => answer.status).join(','))
      assert.equal(shed.length, BURST - CONCURRENCY)
      for (const answer of shed) {
        assert.deepEqual(answer.json(), { error: 'E_BUSY', message: 'The server is busy; retry in 1 s' })
        assert.equal(answer.headers['retry-after'], '1')
      }
      assert.equal((await app.runtime.cache.stats()).loads?.shed, BURST - CONCURRENCY)

      // Afterwards cold queries load again.
      const after = await get(app, `/api/schools/primary?pageSize=77&district=${district}`)
      assert.equal(after.status, 200)
    } finally {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end()
    }
  })
})
