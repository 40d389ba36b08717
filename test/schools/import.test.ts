import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { before, test } from 'node:test'
import { importApplicationWindows, importBanding } from '../../src/schools/import/overlay-import.ts'
import { PROFILE_ALIASES } from '../../src/schools/import/profiles.ts'
import { bundledSourceFiles, importSchools, type SchoolImportSummary } from '../../src/schools/import/schools-import.ts'
import { describeEachDatabase } from '../helpers/database.ts'
import { fingerprint } from '../helpers/fingerprint.ts'
import { BANDING_FIXTURE, edbRows, SOURCE_DIR, sourceCopy } from '../helpers/source-data.ts'

const rows = edbRows()
const expected = {
  primary: rows.filter((row) => row['SCHOOL LEVEL'] === 'PRIMARY').length,
  secondary: rows.filter((row) => row['SCHOOL LEVEL'] === 'SECONDARY').length,
}

async function tempFile(name: string, text: string): Promise<string> {
  const file = path.join(tmpdir(), `${process.pid}-${Date.now()}-${name}`)
  await writeFile(file, text)
  return file
}

test('the bundled EDB file has the documented row counts', () => {
  assert.equal(expected.primary, 693)
  assert.equal(expected.secondary, 623)
})

describeEachDatabase('schools import', (getDb) => {
  let first: SchoolImportSummary

  before(async () => {
    first = await importSchools(getDb().db, bundledSourceFiles(SOURCE_DIR))
  })

  test('imports one row per primary and secondary EDB row', async () => {
    assert.deepEqual(first.rows, expected)
    assert.equal(first.inserted, expected.primary + expected.secondary)
    const counts = await getDb().db.query<{ level: string; n: number }>('SELECT level, count(*)::int AS n FROM schools GROUP BY level ORDER BY level')
    assert.deepEqual(counts, [{ level: 'primary', n: expected.primary }, { level: 'secondary', n: expected.secondary }])
    assert.equal(first.skippedByLevel.KINDERGARTEN, rows.filter((row) => row['SCHOOL LEVEL'] === 'KINDERGARTEN').length)
  })

  test('keeps every source field of a row', async () => {
    const source = rows.find((row) => row['SCHOOL NO.'] === '513687000122')!
    const [school] = await getDb().db.query<Record<string, unknown>>('SELECT * FROM schools WHERE school_no = $1', ['513687000122'])
    assert.equal(school!.school_id, '513687')
    assert.equal(school!.name_en, source['ENGLISH NAME'])
    assert.equal(school!.name_zh, source['中文名稱'])
    assert.equal(school!.address_zh, source['中文地址'])
    assert.equal(school!.session, 'pm')
    assert.equal(school!.district, 'central-and-western')
    assert.equal(school!.district_zh, source['分區'])
    assert.equal(school!.phone, source['TELEPHONE'])
    assert.equal(school!.latitude, Number(source['LATITUDE']))
    assert.equal(school!.school_net, '11')
  })

  test('joins every profile, through folding and the alias table', async () => {
    assert.equal(first.profiles.total, 507)
    assert.equal(first.profiles.unmatched.length, 0, JSON.stringify(first.profiles.unmatched))
    assert.ok(first.profiles.exact >= 460, `exact matches: ${first.profiles.exact}`)
    assert.equal(first.profiles.alias, Object.keys(PROFILE_ALIASES).length)
    assert.equal(first.profiles.exact + first.profiles.folded + first.profiles.alias, 507)
    for (const [profileName, schoolNo] of Object.entries(PROFILE_ALIASES)) {
      const [profile] = await getDb().db.query<{ profile_name_zh: string }>('SELECT profile_name_zh FROM school_profiles WHERE school_no = $1', [schoolNo])
      assert.equal(profile?.profile_name_zh, profileName)
    }
    // A profile covers every session row of its school.
    const sessions = await getDb().db.query('SELECT school_no FROM school_profiles WHERE school_no IN ($1, $2)', ['513687000122', '513687000123'])
    assert.equal(sessions.length, 2)
  })

  test('re-importing the same files changes nothing', async () => {
    const before = await fingerprint(getDb().db)
    const again = await importSchools(getDb().db, bundledSourceFiles(SOURCE_DIR))
    assert.equal(again.unchanged, true)
    assert.equal(again.changedSchoolNos.length, 0)
    assert.deepEqual(await fingerprint(getDb().db), before)
  })

  const broken: [string, Parameters<typeof sourceCopy>[0], RegExp][] = [
    ['a malformed school number', { file: 'schools', transform: (text) => text.replace('115762000123,', '11576200012X,') }, /line 2, field 'SCHOOL NO\.'.*12-digit/],
    ['a latitude outside Hong Kong', { file: 'schools', transform: (text) => text.replace(/,22\.44145606,22\.44145606,/, ',2.44145606,22.44145606,') }, /line 2, field 'LATITUDE'/],
    ['a missing column', { file: 'nets', transform: (text) => text.replace('SCHOOLNET,', 'NET,') }, /line 1, field 'SCHOOLNET'.*missing column/],
    ['a profile in an unknown net', { file: 'profiles', transform: (text) => text.replace('聖公會聖馬太小學,香港上環新街12-20號,11,', '聖公會聖馬太小學,香港上環新街12-20號,19,') }, /line 2, field '小一學校網'.*'19'/],
    ['a wrong file in the place of the EDB list', { file: 'schools', transform: () => 'a,b\n1,2\n' }, /line 1.*missing column/],
  ]
  for (const [what, edit, message] of broken) {
    test(`refuses ${what} and leaves the database as it was`, async () => {
      const before = await fingerprint(getDb().db)
      const files = await sourceCopy(edit)
      await assert.rejects(importSchools(getDb().db, files), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'E_IMPORT_FILE')
        assert.match(error.message, message)
        return true
      })
      assert.deepEqual(await fingerprint(getDb().db), before)
    })
  }

  test('a changed row is updated and reported', async () => {
    const files = await sourceCopy({ file: 'schools', transform: (text) => text.replace('26566116,26566116', '26566117,26566116') })
    const summary = await importSchools(getDb().db, files)
    assert.deepEqual(summary.changedSchoolNos, ['115762000123'])
    assert.equal(summary.updated, 1)
    await importSchools(getDb().db, bundledSourceFiles(SOURCE_DIR))
  })

  test('imports banding from the JSON fixture by Chinese name and reports unmatched names', async () => {
    const summary = await importBanding(getDb().db, BANDING_FIXTURE)
    assert.ok(summary.schools >= 100, `banded ${summary.schools}`)
    assert.ok(summary.unmatched.length > 0)
    const [dbs] = await getDb().db.query<{ band: string }>(`SELECT b.band FROM secondary_banding b JOIN schools s USING (school_no) WHERE s.name_zh = '拔萃男書院' AND s.level = 'secondary'`)
    assert.equal(dbs?.band, '1a')
    const again = await importBanding(getDb().db, BANDING_FIXTURE)
    assert.equal(again.unchanged, true)
  })

  test('refuses a banding CSV with an invalid band, naming line and field, and keeps the old banding', async () => {
    const before = await fingerprint(getDb().db, ['secondary_banding'])
    const file = await tempFile('banding.csv', 'school_no,band\n510777000133,1A\n510777000133,4Z\n')
    await assert.rejects(importBanding(getDb().db, file), /line 3, field 'band'.*'4Z'/)
    assert.deepEqual(await fingerprint(getDb().db, ['secondary_banding']), before)
  })

  test('imports application windows and refuses an unknown school or inverted dates', async () => {
    const good = await tempFile('windows.csv', 'school_no,opens,closes\n510777000133,2000-01-01,2999-12-31\n115762000123,2000-01-01,2000-01-31\n')
    const summary = await importApplicationWindows(getDb().db, good)
    assert.equal(summary.entries, 2)
    const before = await fingerprint(getDb().db, ['application_windows'])
    const unknown = await tempFile('windows-bad.csv', 'school_no,opens,closes\n999999999999,2000-01-01,2999-12-31\n')
    await assert.rejects(importApplicationWindows(getDb().db, unknown), /line 2, field 'school_no'/)
    const inverted = await tempFile('windows-inv.csv', 'school_no,opens,closes\n510777000133,2026-02-01,2026-01-01\n')
    await assert.rejects(importApplicationWindows(getDb().db, inverted), /line 2, field 'closes'/)
    const notDate = await tempFile('windows-nd.csv', 'school_no,opens,closes\n510777000133,soon,2026-01-01\n')
    await assert.rejects(importApplicationWindows(getDb().db, notDate), /line 2, field 'opens'.*ISO 8601/)
    assert.deepEqual(await fingerprint(getDb().db, ['application_windows']), before)
  })
})
