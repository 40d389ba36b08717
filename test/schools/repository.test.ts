// SchoolRepository.list against a list computed in the test from the plain rows (filter, sort by
// name in byte order then number, slice, item built field by field), for a sample of queries that
// takes every path of the statement: facet totals (0 or 1 field), counted totals (2+ fields,
// banding, q), several codes in one field, later and past-the-end pages. And details() against
// detail() for every school.
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { bandLabel } from '../../src/schools/codes.ts'
import { importBanding } from '../../src/schools/import/overlay-import.ts'
import { bundledSourceFiles, importSchools } from '../../src/schools/import/schools-import.ts'
import { FILTER_FIELDS, LEVELS, type FilterField, type Level, type ListQuery } from '../../src/schools/model.ts'
import { SchoolRepository } from '../../src/schools/repository.ts'
import { describeEachDatabase } from '../helpers/database.ts'
import { BANDING_FIXTURE, SOURCE_DIR } from '../helpers/source-data.ts'

type Row = Record<string, string | number | null>

const COLUMN: Record<FilterField, string> = {
  district: 'district',
  schoolNet: 'school_net',
  category: 'category',
  schoolGroup: 'school_group',
  gender: 'gender',
  religion: 'religion',
  session: 'session',
  banding: 'band',
}

/** A list item as the API documents it, from one row. */
function item(row: Row): unknown {
  const coded = (column: string) => ({ code: row[column], en: row[`${column}_en`], zh: row[`${column}_zh`] })
  return {
    schoolNo: row.school_no,
    schoolId: row.school_id,
    level: row.level,
    nameEn: row.name_en,
    nameZh: row.name_zh,
    addressEn: row.address_en,
    addressZh: row.address_zh,
    district: coded('district'),
    category: coded('category'),
    schoolGroup: coded('school_group'),
    gender: coded('gender'),
    session: coded('session'),
    religion: coded('religion'),
    schoolNet: row.school_net === null ? null : { code: row.school_net, en: `School Net ${row.school_net}`, zh: `${row.school_net} 校網 (${row.area_zh})` },
    banding: row.band === null ? null : bandLabel(String(row.band)),
    phone: row.phone,
    website: row.website,
    latitude: row.latitude,
    longitude: row.longitude,
  }
}

/** Name in byte order (COLLATE "C": the UTF-8 bytes), then school number. */
function listOrder(a: Row, b: Row): number {
  return Buffer.compare(Buffer.from(String(a.name_en)), Buffer.from(String(b.name_en))) || String(a.school_no).localeCompare(String(b.school_no))
}

function expectedPage(rows: Row[], query: ListQuery): { total: number; items: unknown[] } {
  const matching = rows
    .filter((row) => row.level === query.level)
    .filter((row) => Object.entries(query.filters).every(([field, codes]) => !codes || codes.length === 0 || codes.includes(row[COLUMN[field as FilterField]] as string)))
    .filter((row) => !query.q || String(row.search_name).includes(query.q))
    .sort(listOrder)
  const start = (query.page - 1) * query.pageSize
  return { total: matching.length, items: matching.slice(start, start + query.pageSize).map(item) }
}

/** Codes of a field in the level's rows, commonest first. */
function codesOf(rows: Row[], level: Level, field: FilterField): string[] {
  const counts = new Map<string, number>()
  for (const row of rows) {
    const code = row[COLUMN[field]]
    if (row.level === level && code !== null) counts.set(String(code), (counts.get(String(code)) ?? 0) + 1)
  }
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([code]) => code)
}

/** The sample: every path of the statement, on every level. */
function sampleQueries(rows: Row[]): ListQuery[] {
  const queries: ListQuery[] = []
  for (const level of LEVELS) {
    const add = (filters: ListQuery['filters'], page = 1, extra: Partial<ListQuery> = {}) => queries.push({ level, page, pageSize: 20, filters, ...extra })
    const fields = FILTER_FIELDS[level] as readonly FilterField[]
    const codes = Object.fromEntries(fields.map((field) => [field, codesOf(rows, level, field)])) as Record<FilterField, string[]>
    const total = rows.filter((row) => row.level === level).length
    for (const page of [1, 2, Math.ceil(total / 20), Math.ceil(total / 20) + 1]) add({}, page)
    add({}, 3, { pageSize: 100 })
    for (const field of fields) {
      const common = codes[field][0]!
      const rare = codes[field].at(-1)!
      add({ [field]: [common] })
      add({ [field]: [common] }, 3)
      add({ [field]: [rare] })
      add({ [field]: [common, rare] })
      add({ [field]: [common, rare] }, 2, { pageSize: 7 })
      add({ [field]: ['no-such-code'] })
    }
    // Two fields, commonest with commonest (pages deep into both indexes) and with a rare code.
    for (const [index, first] of fields.entries()) {
      for (const second of fields.slice(index + 1)) {
        add({ [first]: [codes[first][0]!], [second]: [codes[second][0]!] })
        add({ [first]: [codes[first][0]!], [second]: [codes[second][0]!] }, 4)
        add({ [first]: [codes[first].at(-1)!], [second]: [codes[second][0]!] })
        add({ [first]: codes[first].slice(0, 3), [second]: codes[second].slice(0, 2) })
      }
    }
    add({ district: [codes.district[0]!], category: [codes.category[0]!], gender: [codes.gender[0]!] })
    add({ district: codes.district.slice(0, 2), category: [codes.category[1]!], session: [codes.session[0]!] }, 2)
    for (const q of ['holy', '聖', 'st', 'primary', 'no such school', '100%', 'a_b']) {
      add({}, 1, { q })
      add({}, 2, { q })
      add({ district: [codes.district[0]!] }, 1, { q })
    }
    if (level === 'secondary') add({ banding: codes.banding.slice(0, 2), category: [codes.category[0]!] }, 1, { q: 'college' })
  }
  return queries
}

describeEachDatabase('school repository', (getDb) => {
  let rows: Row[]

  before(async () => {
    const { db } = getDb()
    await importSchools(db, bundledSourceFiles(SOURCE_DIR))
    await importBanding(db, BANDING_FIXTURE)
    rows = await db.query<Row>('SELECT s.*, b.band, n.area_zh FROM schools s LEFT JOIN secondary_banding b ON b.school_no = s.school_no LEFT JOIN school_nets n ON n.net = s.school_net')
  })

  test('list gives the total and the page computed from the rows, for every kind of query', async () => {
    const repository = new SchoolRepository(getDb().db)
    const queries = sampleQueries(rows)
    assert.ok(queries.length > 300, `${queries.length} queries`)
    let nonEmpty = 0
    for (const query of queries) {
      const page = await repository.list(query)
      const expected = expectedPage(rows, query)
      const label = JSON.stringify(query)
      assert.equal(page.total, expected.total, label)
      assert.equal(page.totalPages, Math.ceil(expected.total / query.pageSize), label)
      // Byte for byte, key order included: the cached response body is this JSON.
      assert.equal(JSON.stringify(page.items), JSON.stringify(expected.items), label)
      if (page.items.length > 0) nonEmpty += 1
    }
    // The sample is not mostly empty pages.
    assert.ok(nonEmpty > queries.length * 0.6, `${nonEmpty} of ${queries.length} pages have items`)
  })

  test('a banded school carries its band in every list it appears in, filtered by banding or not', async () => {
    const repository = new SchoolRepository(getDb().db)
    const banded = rows.find((row) => row.band !== null && row.level === 'secondary')!
    for (const filters of [{}, { banding: [String(banded.band)] }, { district: [String(banded.district)] }]) {
      const query: ListQuery = { level: 'secondary', page: 1, pageSize: 100, filters, q: String(banded.search_name) }
      const page = await repository.list(query)
      const found = page.items.find((entry) => (entry as { schoolNo: string }).schoolNo === banded.school_no) as { banding: unknown } | undefined
      assert.deepEqual(found?.banding, bandLabel(String(banded.band)), JSON.stringify(filters))
    }
  })

  test('details() gives what detail() gives, for every school, in one statement', async () => {
    const { db } = getDb()
    const repository = new SchoolRepository(db)
    const schoolNos = await repository.allSchoolNos()
    assert.equal(schoolNos.length, rows.filter((row) => row.level === 'primary' || row.level === 'secondary').length)
    const before = db.counter.total
    const details = await repository.details([...schoolNos, '999999999999'])
    assert.equal(db.counter.total, before + 1)
    assert.equal(details.size, schoolNos.length)
    assert.equal(details.has('999999999999'), false)
    for (const schoolNo of schoolNos) {
      assert.equal(JSON.stringify(details.get(schoolNo)), JSON.stringify(await repository.detail(schoolNo)), schoolNo)
    }
    assert.equal((await repository.details([])).size, 0)
    // A profile is camel-cased in both.
    const withProfile = schoolNos.find((schoolNo) => (details.get(schoolNo)?.profile as Record<string, unknown> | null) != null)!
    assert.ok('sponsoringBody' in (details.get(withProfile)!.profile as object))
  })
})
