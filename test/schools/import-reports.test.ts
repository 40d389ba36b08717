// Import reports are exact: the change list holds exactly the schools whose band or window
// changed, not every row of a file that was renamed; names that match no school and entries
// skipped on purpose (a school listed under `n/a`) are listed.
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { before, test } from 'node:test'
import { importApplicationWindows, importBanding } from '../../src/schools/import/overlay-import.ts'
import { bundledSourceFiles, importSchools } from '../../src/schools/import/schools-import.ts'
import { describeEachDatabase } from '../helpers/database.ts'
import { BANDING_FIXTURE, SOURCE_DIR } from '../helpers/source-data.ts'

async function tempFile(name: string, text: string): Promise<string> {
  const file = path.join(tmpdir(), `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}-${name}`)
  await writeFile(file, text)
  return file
}

interface BandingFile {
  banding: Record<string, string[]>
}

describeEachDatabase('overlay import reports', (getDb) => {
  before(async () => {
    await importSchools(getDb().db, bundledSourceFiles(SOURCE_DIR))
  })

  test('banding: a re-import under another file name with 3 schools moved reports exactly those 3', async () => {
    const db = getDb().db
    const original = JSON.parse(await readFile(BANDING_FIXTURE, 'utf8')) as BandingFile
    const first = await importBanding(db, await tempFile('banding-2025.json', JSON.stringify(original)))
    assert.equal(first.unchanged, false)
    // Listed, not dropped: the fixture's n/a schools and the names no school has.
    const notBanded = original.banding['n/a'] ?? []
    assert.ok(notBanded.length > 0)
    assert.deepEqual(first.skipped.map((entry) => entry.name), notBanded.map((name) => name.trim()))
    assert.ok(first.skipped.every((entry) => /no band/.test(entry.reason)))
    assert.ok(first.unmatched.length > 0)

    // Three schools of band 1A whose names match exactly one school row each move to 2A.
    const candidates = await db.query<{ name: string; schoolNo: string }>(
      `SELECT name_zh AS name, min(school_no) AS "schoolNo" FROM schools WHERE level = 'secondary' AND name_zh = ANY($1::text[]) GROUP BY name_zh HAVING count(*) = 1 ORDER BY name_zh LIMIT 3`,
      [original.banding['1A']],
    )
    assert.equal(candidates.length, 3)
    const moved = candidates.map((row) => row.name)
    const edited: BandingFile = { banding: { ...original.banding, '1A': original.banding['1A']!.filter((name) => !moved.includes(name)), '2A': [...(original.banding['2A'] ?? []), ...moved] } }
    const second = await importBanding(db, await tempFile('banding-2026.json', JSON.stringify(edited)))
    assert.deepEqual(second.changedSchoolNos, candidates.map((row) => row.schoolNo).sort())

    // The same content under a third name changes nothing.
    const third = await importBanding(db, await tempFile('banding-copy.json', JSON.stringify(edited)))
    assert.equal(third.unchanged, true)
    assert.deepEqual(third.changedSchoolNos, [])
  })

  test('banding CSV: an n/a band is skipped and listed with its line', async () => {
    const db = getDb().db
    const [a, b] = await db.query<{ schoolNo: string }>(`SELECT school_no AS "schoolNo" FROM schools WHERE level = 'secondary' ORDER BY school_no LIMIT 2`)
    const summary = await importBanding(db, await tempFile('banding.csv', `school_no,band\n${a!.schoolNo},1A\n${b!.schoolNo},n/a\n`))
    assert.equal(summary.schools, 1)
    assert.deepEqual(summary.skipped, [{ line: 3, name: b!.schoolNo, reason: "band 'n/a': no band" }])
  })

  test('windows: a re-import under another file name with one window changed and one added reports those 2', async () => {
    const db = getDb().db
    const [x, y, z] = await db.query<{ schoolNo: string }>(`SELECT school_no AS "schoolNo" FROM schools ORDER BY school_no LIMIT 3`)
    const first = await importApplicationWindows(db, await tempFile('windows-a.csv', `school_no,opens,closes\n${x!.schoolNo},2026-01-05,2026-01-20\n${y!.schoolNo},2026-01-05,2026-01-20\n`))
    assert.equal(first.unchanged, false)
    const second = await importApplicationWindows(db, await tempFile('windows-b.csv', `school_no,opens,closes\n${x!.schoolNo},2026-01-05,2026-01-27\n${y!.schoolNo},2026-01-05,2026-01-20\n${z!.schoolNo},2026-02-01,2026-02-10\n`))
    assert.deepEqual(second.changedSchoolNos, [x!.schoolNo, z!.schoolNo].sort())
    const renamed = await importApplicationWindows(db, await tempFile('windows-c.csv', `school_no,opens,closes\n${x!.schoolNo},2026-01-05,2026-01-27\n${y!.schoolNo},2026-01-05,2026-01-20\n${z!.schoolNo},2026-02-01,2026-02-10\n`))
    assert.equal(renamed.unchanged, true)
  })
})
