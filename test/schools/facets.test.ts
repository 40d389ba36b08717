// The precomputed counts (school_facets, school_facet_pairs) against counts the test makes itself from the rows,
// after every kind of write that changes them: the school import, a changed school import and a
// banding import. Filter options and stats, which read the facets, are checked the same way.
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { before, test } from 'node:test'
import type { Queryable } from '../../src/db/database.ts'
import { bandLabel } from '../../src/schools/codes.ts'
import { importApplicationWindows, importBanding } from '../../src/schools/import/overlay-import.ts'
import { bundledSourceFiles, importSchools } from '../../src/schools/import/schools-import.ts'
import { FILTER_FIELDS, LEVELS, type FilterOption } from '../../src/schools/model.ts'
import { SchoolRepository } from '../../src/schools/repository.ts'
import { describeEachDatabase } from '../helpers/database.ts'
import { BANDING_FIXTURE, SOURCE_DIR, sourceCopy } from '../helpers/source-data.ts'

interface Facet {
  level: string
  field: string
  code: string
  en: string
  zh: string
  count: number
}

type Row = Record<string, string | null>

/** Every school row with its band and net area, as plain values. */
async function schoolRows(db: Queryable): Promise<Row[]> {
  return db.query<Row>(`SELECT s.*, b.band, n.area_zh FROM schools s LEFT JOIN secondary_banding b ON b.school_no = s.school_no LEFT JOIN school_nets n ON n.net = s.school_net`)
}

/** Each filter field's code and labels for one row, or null where the row has no such value. */
function rowFacets(row: Row): [string, { code: string; en: string; zh: string } | null][] {
  const coded = (column: string) => ({ code: row[column]!, en: row[`${column}_en`]!, zh: row[`${column}_zh`]! })
  return [
    ['district', coded('district')],
    ['schoolNet', row.school_net === null ? null : { code: row.school_net!, en: `School Net ${row.school_net}`, zh: `${row.school_net} 校網 (${row.area_zh})` }],
    ['category', coded('category')],
    ['schoolGroup', coded('school_group')],
    ['gender', coded('gender')],
    ['religion', coded('religion')],
    ['session', coded('session')],
    ['banding', row.band === null ? null : bandLabel(row.band!)],
  ]
}

const facetOrder = (a: Facet, b: Facet): number => `${a.level}|${a.field}|${a.code}`.localeCompare(`${b.level}|${b.field}|${b.code}`)

/** The facets counted in JS, row by row: a GROUP BY that shares nothing with the SQL function. */
async function expectedFacets(db: Queryable): Promise<Facet[]> {
  const groups = new Map<string, Facet & { labels: Set<string> }>()
  for (const row of await schoolRows(db)) {
    for (const [field, value] of [...rowFacets(row), ['_total', { code: '', en: '', zh: '' }] as const]) {
      if (value === null) continue
      const key = `${row.level}|${field}|${value.code}`
      const group = groups.get(key) ?? { level: row.level!, field, code: value.code, en: value.en, zh: value.zh, count: 0, labels: new Set<string>() }
      group.count += 1
      group.labels.add(`${value.en}|${value.zh}`)
      groups.set(key, group)
    }
  }
  return [...groups.values()]
    .map(({ labels, ...facet }) => {
      assert.equal(labels.size, 1, `one label per code: ${facet.field} ${facet.code} has ${[...labels].join(', ')}`)
      return facet
    })
    .sort(facetOrder)
}

interface Pair {
  level: string
  field_a: string
  code_a: string
  field_b: string
  code_b: string
  count: number
}

const pairKey = (pair: Omit<Pair, 'count'>): string => `${pair.level}|${pair.field_a}|${pair.code_a}|${pair.field_b}|${pair.code_b}`

/** The counts of every pair of filter codes a row has, counted in JS (field names in byte order). */
async function expectedPairs(db: Queryable): Promise<Pair[]> {
  const counts = new Map<string, Pair>()
  for (const row of await schoolRows(db)) {
    const present = rowFacets(row).filter((entry): entry is [string, { code: string; en: string; zh: string }] => entry[1] !== null)
    for (const [fieldA, a] of present) {
      for (const [fieldB, b] of present) {
        if (!(fieldA < fieldB)) continue
        const pair = { level: row.level!, field_a: fieldA, code_a: a.code, field_b: fieldB, code_b: b.code, count: 0 }
        const stored = counts.get(pairKey(pair)) ?? pair
        stored.count += 1
        counts.set(pairKey(pair), stored)
      }
    }
  }
  return [...counts.values()].sort((x, y) => pairKey(x).localeCompare(pairKey(y)))
}

async function storedPairs(db: Queryable): Promise<Pair[]> {
  return (await db.query<Pair>('SELECT level, field_a, code_a, field_b, code_b, count FROM school_facet_pairs')).sort((x, y) => pairKey(x).localeCompare(pairKey(y)))
}

async function storedFacets(db: Queryable): Promise<Facet[]> {
  return (await db.query<Facet>('SELECT level, field, code, en, zh, count FROM school_facets')).sort(facetOrder)
}

async function tempFile(name: string, text: string): Promise<string> {
  const file = path.join(tmpdir(), `${process.pid}-${Date.now()}-${name}`)
  await writeFile(file, text)
  return file
}

describeEachDatabase('school facets', (getDb) => {
  before(async () => {
    await importSchools(getDb().db, bundledSourceFiles(SOURCE_DIR))
  })

  test('after the school import, the facets are the counts of the rows', async () => {
    const expected = await expectedFacets(getDb().db)
    assert.ok(expected.some((facet) => facet.field === 'schoolNet'), 'the bundled data has school nets')
    assert.deepEqual(await storedFacets(getDb().db), expected)
    const pairs = await expectedPairs(getDb().db)
    assert.ok(pairs.length > 1000, `${pairs.length} pairs`)
    assert.deepEqual(await storedPairs(getDb().db), pairs)
  })

  test('the filter combinations are the facets and pairs of the level, singles first', async () => {
    const db = getDb().db
    const repository = new SchoolRepository(db)
    const pairs = await expectedPairs(db)
    const facets = await expectedFacets(db)
    for (const level of LEVELS) {
      const fields: readonly string[] = FILTER_FIELDS[level]
      const singles = facets.filter((facet) => facet.level === level && fields.includes(facet.field))
      const twos = pairs.filter((pair) => pair.level === level && fields.includes(pair.field_a) && fields.includes(pair.field_b))
      assert.deepEqual(await repository.filterCombinations(level, 0), [])
      assert.equal((await repository.filterCombinations(level, 1)).length, singles.length)
      const combinations = await repository.filterCombinations(level, 2)
      assert.equal(combinations.length, singles.length + twos.length)
      assert.ok(combinations.slice(0, singles.length).every((combination) => Object.keys(combination.filters).length === 1))
      const text = (filters: Record<string, [string]>, total: number): string => `${JSON.stringify(Object.entries(filters).sort())}=${total}`
      assert.deepEqual(
        combinations.map((combination) => text(combination.filters as Record<string, [string]>, combination.total)).sort(),
        [...singles.map((facet) => text({ [facet.field]: [facet.code] }, facet.count)), ...twos.map((pair) => text({ [pair.field_a]: [pair.code_a], [pair.field_b]: [pair.code_b] }, pair.count))].sort(),
      )
    }
  })

  test('filter options are the facets of the level, labelled, in numeric-aware code order', async () => {
    const repository = new SchoolRepository(getDb().db)
    const expected = await expectedFacets(getDb().db)
    for (const level of LEVELS) {
      const options = await repository.filterOptions(level)
      const ofLevel = expected.filter((facet) => facet.level === level)
      const filters: Record<string, FilterOption[]> = {}
      for (const field of FILTER_FIELDS[level]) {
        filters[field] = ofLevel
          .filter((facet) => facet.field === field)
          .map(({ code, en, zh, count }) => ({ code, en, zh, count }))
          .sort((a, b) => a.code.localeCompare(b.code, 'en', { numeric: true }))
      }
      const total = ofLevel.find((facet) => facet.field === '_total')!.count
      // Byte for byte: the cached response body is this object serialised.
      assert.equal(JSON.stringify(options), JSON.stringify({ level, total, filters }))
    }
  })

  test('stats are the district and category facets of both levels; open windows are counted live', async () => {
    const db = getDb().db
    const repository = new SchoolRepository(db)
    const rows = (await schoolRows(db)).filter((row) => row.level === 'primary' || row.level === 'secondary')
    const stats = await repository.stats()
    assert.deepEqual(stats.totals, {
      primary: rows.filter((row) => row.level === 'primary').length,
      secondary: rows.filter((row) => row.level === 'secondary').length,
      all: rows.length,
    })
    for (const [field, list] of [['district', stats.byDistrict], ['category', stats.byCategory]] as const) {
      // Ordered by code in the database's collation, as before the facets.
      const order = await db.query<{ code: string }>(`SELECT DISTINCT ${field} AS code FROM schools WHERE level IN ('primary', 'secondary') ORDER BY 1`)
      assert.deepEqual(list.map((entry) => entry.code), order.map((row) => row.code))
      for (const entry of list) {
        const matching = rows.filter((row) => row[field] === entry.code)
        assert.equal(entry.en, matching[0]![`${field}_en`])
        assert.equal(entry.primary, matching.filter((row) => row.level === 'primary').length)
        assert.equal(entry.secondary, matching.filter((row) => row.level === 'secondary').length)
        assert.equal(entry.count, matching.length)
      }
    }
    assert.equal(stats.applicationWindowsOpen, 0)
    // Windows are not a facet: an import of them changes the live count, not the facets.
    const facets = await storedFacets(db)
    await importApplicationWindows(db, await tempFile('windows.csv', 'school_no,opens,closes\n510777000133,2000-01-01,2999-12-31\n115762000123,2000-01-01,2000-01-31\n'))
    assert.equal((await repository.stats()).applicationWindowsOpen, 1)
    assert.deepEqual(await storedFacets(db), facets)
  })

  test('a banding import refreshes the banding facets in its transaction', async () => {
    const db = getDb().db
    await importBanding(db, BANDING_FIXTURE)
    const expected = await expectedFacets(db)
    assert.ok(expected.some((facet) => facet.field === 'banding' && facet.count > 0), 'the fixture bands some schools')
    assert.deepEqual(await storedFacets(db), expected)
    assert.deepEqual(await storedPairs(db), await expectedPairs(db))
    const options = await new SchoolRepository(db).filterOptions('secondary')
    assert.deepEqual(options.filters.banding!.map((option) => option.code), ['1a', '1b', '1c', '2a', '2b', '3'].filter((code) => expected.some((facet) => facet.field === 'banding' && facet.code === code)))
    // A smaller banding set replaces the previous one, and the counts follow.
    await importBanding(db, await tempFile('banding.csv', 'school_no,band\n510777000133,1A\n'))
    const banding = (await storedFacets(db)).filter((facet) => facet.field === 'banding')
    assert.deepEqual(banding, [{ level: 'secondary', field: 'banding', ...bandLabel('1a'), count: 1 }])
    await importBanding(db, BANDING_FIXTURE)
    assert.deepEqual(await storedFacets(db), expected)
  })

  test('a school import that moves and removes schools refreshes the facets, banding included', async () => {
    const db = getDb().db
    const before = await storedFacets(db)
    const files = await sourceCopy({
      file: 'schools',
      transform: (text) =>
        text
          // One primary school moves from Tai Po to Sha Tin; DBS (secondary, banded 1a) disappears.
          .replace(/^(115762000123,.*?),TAI PO,大埔區,/m, '$1,SHA TIN,沙田區,')
          .replace(/^510777000133,.*\r\n/m, ''),
    })
    const summary = await importSchools(db, files)
    assert.deepEqual(summary.changedSchoolNos, ['115762000123', '510777000133'])
    const after = await storedFacets(db)
    assert.deepEqual(after, await expectedFacets(db))
    assert.deepEqual(await storedPairs(db), await expectedPairs(db))
    const count = (facets: Facet[], level: string, field: string, code: string) => facets.find((facet) => facet.level === level && facet.field === field && facet.code === code)?.count ?? 0
    assert.equal(count(after, 'primary', 'district', 'tai-po'), count(before, 'primary', 'district', 'tai-po') - 1)
    assert.equal(count(after, 'primary', 'district', 'sha-tin'), count(before, 'primary', 'district', 'sha-tin') + 1)
    assert.equal(count(after, 'secondary', '_total', ''), count(before, 'secondary', '_total', '') - 1)
    assert.equal(count(after, 'secondary', 'banding', '1a'), count(before, 'secondary', 'banding', '1a') - 1)
    // Back to the bundled files (the banding of DBS went with its row: import it again too).
    await importSchools(db, bundledSourceFiles(SOURCE_DIR))
    await importBanding(db, BANDING_FIXTURE)
    assert.deepEqual(await storedFacets(db), before)
  })

  test('re-importing unchanged files leaves the facets as they are', async () => {
    const db = getDb().db
    const before = await storedFacets(db)
    const pairsBefore = await storedPairs(db)
    assert.equal((await importSchools(db, bundledSourceFiles(SOURCE_DIR))).unchanged, true)
    assert.equal((await importBanding(db, BANDING_FIXTURE)).unchanged, true)
    assert.deepEqual(await storedFacets(db), before)
    assert.deepEqual(await storedPairs(db), pairsBefore)
  })
})
