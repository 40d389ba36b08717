// One label table (code_labels, migration 006): every read that carries a coded value (list items,
// details, filter options, stats) gives the same { en, zh } for it, and the band labels are the
// ones bandLabel() documents.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { bandLabel } from '../../src/schools/codes.ts'
import { importBanding } from '../../src/schools/import/overlay-import.ts'
import { bundledSourceFiles, importSchools } from '../../src/schools/import/schools-import.ts'
import { FILTER_FIELDS, LEVELS, type FilterField, type Level } from '../../src/schools/model.ts'
import { SchoolRepository } from '../../src/schools/repository.ts'
import { describeEachDatabase } from '../helpers/database.ts'
import { BANDING_FIXTURE, SOURCE_DIR } from '../helpers/source-data.ts'

interface Labelled {
  code: string
  en: string
  zh: string
}

type Item = Record<string, unknown>

/** Every item of a level, page by page. */
async function allItems(repository: SchoolRepository, level: Level): Promise<Item[]> {
  const items: Item[] = []
  for (let page = 1; ; page++) {
    const result = await repository.list({ level, page, pageSize: 100, filters: {} })
    items.push(...(result.items as Item[]))
    if (page >= result.totalPages) return items
  }
}

describeEachDatabase('coded labels', (getDb) => {
  before(async () => {
    await importSchools(getDb().db, bundledSourceFiles(SOURCE_DIR))
    await importBanding(getDb().db, BANDING_FIXTURE)
  })

  test('list items, details and filter options give every code the same labels', async () => {
    const repository = new SchoolRepository(getDb().db)
    for (const level of LEVELS) {
      const options = await repository.filterOptions(level)
      const items = await allItems(repository, level)
      assert.ok(items.length > 100, `${level}: ${items.length} items`)
      for (const field of FILTER_FIELDS[level] as readonly FilterField[]) {
        const byCode = new Map(options.filters[field]!.map((option) => [option.code, { code: option.code, en: option.en, zh: option.zh }]))
        let seen = 0
        for (const item of items) {
          const value = item[field] as Labelled | null
          if (value === null) continue
          seen += 1
          assert.deepEqual(value, byCode.get(value.code), `${level} ${String(item.schoolNo)} ${field}`)
        }
        assert.ok(seen > 0, `${level}: some item has a ${field}`)
      }
      const withNet = items.find((item) => item.schoolNet !== null)
      if (withNet) {
        const detail = await repository.detail(String(withNet.schoolNo))
        const { areaZh, webpage: _webpage, ...net } = detail!.schoolNet as Labelled & { areaZh: string; webpage: string | null }
        assert.deepEqual(net, withNet.schoolNet, 'the detail labels its school net as the list does')
        assert.equal(net.zh, `${net.code} 校網 (${areaZh})`)
      }
    }
  })

  test('the band labels are those of bandLabel(), for every band an operator may import', async () => {
    const rows = await getDb().db.query<Labelled>(`SELECT code, en, zh FROM code_labels WHERE field = 'banding' ORDER BY code`)
    const bands = ['1', '2', '3'].flatMap((band) => ['', 'a', 'b', 'c'].map((letter) => `${band}${letter}`)).sort()
    assert.deepEqual(rows, bands.map((code) => bandLabel(code)))
  })
})
