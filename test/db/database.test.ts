import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachDatabase } from '../helpers/database.ts'

describeEachDatabase('database', (getDb) => {
  test('migrates and counts every query', async () => {
    const { db } = getDb()
    const before = db.counter.total
    const rows = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM schema_migrations')
    assert.ok(rows[0]!.count >= 2)
    assert.equal(db.counter.total, before + 1)
  })

  test('rolls back a failed transaction', async () => {
    const { db } = getDb()
    await assert.rejects(db.transaction(async (tx) => {
      await tx.query("INSERT INTO school_nets (net, area_zh) VALUES ('99x', 'test')")
      throw new Error('boom')
    }), /boom/)
    const rows = await db.query("SELECT 1 FROM school_nets WHERE net = '99x'")
    assert.equal(rows.length, 0)
  })

  test('parameters never reach SQL as text', async () => {
    const { db } = getDb()
    const rows = await db.query<{ value: string }>('SELECT $1::text AS value', ["'; DROP TABLE schools; --"])
    assert.equal(rows[0]!.value, "'; DROP TABLE schools; --")
    assert.equal((await db.query('SELECT 1 FROM schools LIMIT 1')).length, 0)
  })
})
