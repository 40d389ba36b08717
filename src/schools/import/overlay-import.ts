// Imports of the operator's overlays. Each file is the operator's complete current set:
// it replaces what the table held, in one transaction, and reports which schools changed.
import type { Database, Queryable } from '../../db/database.ts'
import { ImportFileError } from '../../errors.ts'
import { refreshFacets } from '../facets.ts'
import { deleteMissing, upsertRows } from './bulk.ts'
import { parseApplicationWindows, parseBanding, resolveBanding, type SkippedEntry } from './overlays.ts'
import { readSourceFile, recordImport } from './schools-import.ts'

export interface OverlayImportSummary {
  unchanged: boolean
  entries: number
  schools: number
  /** Names that match no school. */
  unmatched: { line: number | undefined; name: string; reason: string }[]
  /** Entries not imported on purpose (a school listed under `n/a`). */
  skipped: SkippedEntry[]
  /** Exactly the schools whose band or window was added, changed or removed (not a renamed source file). */
  changedSchoolNos: string[]
}

/** The source file name is bookkeeping: written for every row, never counted as a change. */
async function recordSource(tx: Queryable, table: string, source: string): Promise<void> {
  await tx.query(`UPDATE ${table} SET source = $1 WHERE source IS DISTINCT FROM $1`, [source])
}

export async function importBanding(db: Database, file: string): Promise<OverlayImportSummary> {
  const { text, sha256 } = await readSourceFile(file)
  const skipped: SkippedEntry[] = []
  const entries = parseBanding(text, file, skipped)
  const secondary = await db.query<{ schoolNo: string; nameZh: string }>(`SELECT school_no AS "schoolNo", name_zh AS "nameZh" FROM schools WHERE level = 'secondary'`)
  if (secondary.length === 0) throw new ImportFileError(file, undefined, undefined, 'no secondary schools are loaded yet; run `schools import` first')
  const resolved = resolveBanding(entries, secondary, file)
  const rows = [...resolved.bySchoolNo].map(([schoolNo, band]) => ({ schoolNo, band }))
  const source = file.split(/[\\/]/).pop() ?? file
  const changed = await db.transaction(async (tx) => {
    const result = await upsertRows(tx, 'secondary_banding', ['school_no'], [
      { name: 'school_no', type: 'text', value: (row: { schoolNo: string }) => row.schoolNo },
      { name: 'band', type: 'text', value: (row: { band: string }) => row.band },
      { name: 'source', type: 'text', value: () => source },
    ], rows, ['band'])
    const deleted = await deleteMissing(tx, 'secondary_banding', 'school_no', rows.map((row) => row.schoolNo))
    await recordSource(tx, 'secondary_banding', source)
    const changedSchoolNos = [...result.inserted, ...result.updated, ...deleted].sort()
    if (changedSchoolNos.length > 0) {
      // Banding counts are filter options and list totals (school_facets).
      await refreshFacets(tx)
      await recordImport(tx, 'banding', file, [sha256], rows.length, { changed: changedSchoolNos.length, unmatched: resolved.unmatched.length })
    }
    return changedSchoolNos
  })
  return { unchanged: changed.length === 0, entries: entries.length, schools: rows.length, unmatched: resolved.unmatched, skipped, changedSchoolNos: changed }
}

export async function importApplicationWindows(db: Database, file: string): Promise<OverlayImportSummary> {
  const { text, sha256 } = await readSourceFile(file)
  const windows = parseApplicationWindows(text, file)
  const known = new Set((await db.query<{ schoolNo: string }>('SELECT school_no AS "schoolNo" FROM schools')).map((row) => row.schoolNo))
  const unknown = windows.find((window) => !known.has(window.schoolNo))
  if (unknown) throw new ImportFileError(file, unknown.line, 'school_no', `${unknown.schoolNo} is not a known school`)
  const source = file.split(/[\\/]/).pop() ?? file
  const changed = await db.transaction(async (tx) => {
    const result = await upsertRows(tx, 'application_windows', ['school_no', 'opens_at'], [
      { name: 'school_no', type: 'text', value: (window: (typeof windows)[number]) => window.schoolNo },
      { name: 'opens_at', type: 'timestamptz', value: (window: (typeof windows)[number]) => window.opensAt.toISOString() },
      { name: 'closes_at', type: 'timestamptz', value: (window: (typeof windows)[number]) => window.closesAt.toISOString() },
      { name: 'source', type: 'text', value: () => source },
    ], windows, ['closes_at'])
    await recordSource(tx, 'application_windows', source)
    const keep = windows.map((window) => `${window.schoolNo}|${window.opensAt.toISOString()}`)
    const stale = await tx.query<{ schoolNo: string; opensAt: Date }>(`SELECT school_no AS "schoolNo", opens_at AS "opensAt" FROM application_windows`)
    const removed = stale.filter((row) => !keep.includes(`${row.schoolNo}|${new Date(row.opensAt).toISOString()}`))
    for (const row of removed) await tx.query('DELETE FROM application_windows WHERE school_no = $1 AND opens_at = $2', [row.schoolNo, row.opensAt])
    const changedSchoolNos = [...new Set([...result.inserted, ...result.updated].map((key) => key.split('|')[0]!).concat(removed.map((row) => row.schoolNo)))].sort()
    if (changedSchoolNos.length > 0) await recordImport(tx, 'application-windows', file, [sha256], windows.length, { changed: changedSchoolNos.length })
    return changedSchoolNos
  })
  return { unchanged: changed.length === 0, entries: windows.length, schools: new Set(windows.map((window) => window.schoolNo)).size, unmatched: [], skipped: [], changedSchoolNos: changed }
}
