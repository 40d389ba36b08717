import assert from 'node:assert/strict'
import { test } from 'node:test'
import { filterSchemaVersion, listIndexes } from '../../src/db/filter-schema.ts'
import { migrate } from '../../src/db/migrate.ts'
import { SchoolRepository } from '../../src/schools/repository.ts'
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

  test('migrations with function bodies apply, and an empty database has empty facets and lists', async () => {
    const { db } = getDb()
    const versions = (await db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version')).map((row) => row.version)
    assert.ok(versions.some((version) => version.startsWith('005_')), versions.join(', '))
    await db.query('SELECT refresh_school_facets()')
    assert.equal((await db.query('SELECT 1 FROM school_facets')).length, 0)
    const repository = new SchoolRepository(db)
    for (const filters of [{}, { district: ['sha-tin'] }, { district: ['sha-tin'], category: ['aided'] }]) {
      const page = await repository.list({ level: 'primary', page: 1, pageSize: 20, filters })
      assert.deepEqual(page, { items: [], page: 1, pageSize: 20, total: 0, totalPages: 0 })
    }
    assert.equal((await repository.filterOptions('primary')).total, 0)
    assert.deepEqual((await repository.stats()).totals, { primary: 0, secondary: 0, all: 0 })
  })

  test('the schema generated from the filter declaration is applied once, and again when it differs', async () => {
    const { db } = getDb()
    const version = filterSchemaVersion()
    const recorded = async (): Promise<string[]> => (await db.query<{ version: string }>("SELECT version FROM schema_migrations WHERE version LIKE 'filter-schema:%'")).map((row) => row.version)
    const indexes = async (): Promise<string[]> => (await db.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'schools' AND indexname LIKE 'schools\\_level\\_%' ORDER BY indexname")).map((row) => row.indexname)
    const declared = listIndexes().map((index) => index.name).sort()
    assert.deepEqual(await recorded(), [version])
    assert.deepEqual(await indexes(), declared)
    assert.deepEqual(await migrate(db), [], 'nothing to do on the next start')
    // A database whose generated part is out of date (an older declaration): it is brought in line.
    await db.query('DROP INDEX schools_level_gender')
    await db.query("UPDATE schema_migrations SET version = 'filter-schema:older' WHERE version = $1", [version])
    assert.deepEqual(await migrate(db), [version])
    assert.deepEqual(await recorded(), [version])
    assert.deepEqual(await indexes(), declared)
  })
})
