// An import re-warms every instance: two runtimes on one database and one Redis prefix (two
// instances of the service). An import through instance A expires the cache everywhere (the
// bus tells B's L1) and re-warms it, so B soon answers with the new data without anyone
// clearing anything on B.
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { skipUnlessServers, uniqueName } from '../helpers/env.ts'
import { closeTestApp, deleteRedisPrefix, eventually, get } from '../helpers/integration.ts'
import { BANDING_FIXTURE, edbRows, sourceCopy } from '../helpers/source-data.ts'

interface FilterOptions {
  filters: Record<string, { code: string; count: number }[]>
}

if (skipUnlessServers('import, invalidate and re-warm', ['postgres', 'redis'])) {
  describe('an import on one instance re-warms the others [postgres, redis]', () => {
    const prefix = uniqueName('rewarm')
    let instanceA: TestApp | undefined
    let instanceB: TestApp | undefined
    const a = (): TestApp => instanceA!
    const b = (): TestApp => instanceB!

    before(async () => {
      instanceA = await createTestApp({ backend: 'postgres', redis: true, env: { REDIS_PREFIX: prefix } })
      instanceB = await createTestApp({ database: instanceA.database, redis: true, env: { REDIS_PREFIX: prefix } })
      for (const instance of [a(), b()]) {
        const summary = await instance.runtime.runner.run({ groups: ['all'], trigger: 'test' })
        assert.equal(summary.failed, 0)
      }
    })

    after(async () => {
      // B first: A owns (and drops) the database.
      await instanceB?.close()
      await closeTestApp(instanceA)
      await deleteRedisPrefix(prefix)
    })

    test('importing banding on A: B lists the banding codes and filters by them', async () => {
      const before = await get(b(), '/api/schools/filters?level=secondary')
      assert.equal(before.headers['x-cache'], 'hit', 'B has the filter options in its L1')
      assert.deepEqual(before.json<FilterOptions>().filters.banding ?? [], [])
      assert.equal((await get(b(), '/api/schools/secondary?banding=1a')).status, 400, 'no banding codes yet')

      const summary = await a().runtime.importBanding(BANDING_FIXTURE)
      assert.equal(summary.unchanged, false)
      assert.ok(summary.schools > 0)

      const options = await eventually(async () => {
        const answer = await get(b(), '/api/schools/filters?level=secondary')
        const banding = answer.json<FilterOptions>().filters.banding ?? []
        return banding.some((option) => option.code === '1a') ? banding : undefined
      }, 15_000, "B's filter options to list banding 1a")
      const band1a = options.find((option) => option.code === '1a')!
      assert.ok(band1a.count > 0)

      const list = await get(b(), '/api/schools/secondary?banding=1a&pageSize=100')
      assert.equal(list.status, 200, list.body)
      const page = list.json<{ total: number; items: { banding: { code: string } | null }[] }>()
      assert.equal(page.total, band1a.count)
      assert.ok(page.items.every((item) => item.banding?.code === '1a'))
      // The import's re-warm on A put the configured banding queries into Redis: B reads them from there.
      assert.equal((await get(b(), '/api/schools/secondary?banding=1a')).headers['x-cache'], 'hit', 'warmed by A after the import')
    })

    test("importing a changed schools file on A: B's detail shows the new phone", async () => {
      const school = edbRows().find((row) => row['SCHOOL LEVEL'] === 'SECONDARY' && /^\d{8}$/.test(row['TELEPHONE'] ?? ''))!
      const schoolNo = school['SCHOOL NO.']!
      const oldPhone = school['TELEPHONE']!
      const newPhone = oldPhone === '29999999' ? '29999998' : '29999999'
      const detailUrl = `/api/schools/${schoolNo}`
      assert.equal((await get(b(), detailUrl)).json().phone, oldPhone)
      assert.equal((await get(b(), detailUrl)).headers['x-cache'], 'hit', 'B holds the old detail')

      const files = await sourceCopy({
        file: 'schools',
        transform: (text) => text.split('\r\n').map((line) => (line.includes(schoolNo) ? line.replace(oldPhone, newPhone) : line)).join('\r\n'),
      })
      try {
        const summary = await a().runtime.importSchools(files)
        assert.equal(summary.unchanged, false)
        assert.deepEqual(summary.changedSchoolNos, [schoolNo])
      } finally {
        await rm(path.dirname(files.schools), { recursive: true, force: true })
      }

      // Details are not re-warmed by default: B serves the old detail as stale once and reloads it.
      await eventually(async () => ((await get(b(), detailUrl)).json().phone === newPhone ? true : undefined), 15_000, `B's detail of ${schoolNo} to show ${newPhone}`)
      assert.equal((await get(a(), detailUrl)).json().phone, newPhone)
    })
  })
}
