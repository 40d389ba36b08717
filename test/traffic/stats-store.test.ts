// The shared statistics tables: bounded whatever the traffic, counts added across writers,
// retention, deletion. Runs on PGlite and, when the run has one, PostgreSQL.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RequestStatistics } from '../../src/traffic/request-stats.ts'
import { HOUR_MS, RequestStatsStore } from '../../src/traffic/stats-store.ts'
import { describeEachDatabase } from '../helpers/database.ts'

const T0 = Date.UTC(2026, 0, 10, 12, 30)

describeEachDatabase('request statistics store', (getDb) => {
  test('a million distinct keys leave at most keysPerHour rows per hour', async () => {
    const db = getDb().db
    const store = new RequestStatsStore(db, 800)
    const stats = new RequestStatistics({ classes: ['lists', 'searches'], sketchSize: 500, thresholdClass: 'searches', threshold: 3 })
    for (let index = 0; index < 1_000_000; index += 1) {
      stats.record(`list:primary?page=${index}`, 0, 'miss')
      // A flush every 100,000 requests: ten batches of at most 500 keys each.
      if ((index + 1) % 100_000 === 0) await store.add(stats.takeBatch(), T0)
    }
    const [row] = await db.query<{ rows: number }>('SELECT count(*)::int AS rows FROM request_key_counts')
    assert.ok(row!.rows <= 800, `${row!.rows} key rows`)
    assert.ok(row!.rows >= 500)
    const [lists] = await store.classTotals(24, T0)
    assert.deepEqual(lists, { requestClass: 'lists', requests: 1_000_000, cached: 0, warm: 0 })
    await store.deleteAll()
  })

  test('writers add up; old buckets are pruned; everything can be deleted', async () => {
    const store = new RequestStatsStore(getDb().db, 100)
    const batch = (requests: number) => ({ since: T0, keys: [{ key: 'list:primary?page=2', requestClass: 'lists', requests, misses: 1 }], classes: [{ requestClass: 'lists', requests, cached: requests - 1, warm: 0 }] })
    await Promise.all([store.add(batch(3), T0), store.add(batch(4), T0)])
    await store.add(batch(5), T0 - 10 * 24 * HOUR_MS)
    assert.deepEqual(await store.topKeys(24, 10, T0), [{ key: 'list:primary?page=2', requestClass: 'lists', requests: 7, misses: 2 }])
    assert.equal((await store.topKeys(30 * 24, 10, T0))[0]!.requests, 12)
    await store.prune(7, T0)
    assert.equal((await store.topKeys(30 * 24, 10, T0))[0]!.requests, 7)
    await store.deleteAll()
    assert.deepEqual(await store.sizes(), { keyRows: 0, classRows: 0, learnedRows: 0 })
  })
})
