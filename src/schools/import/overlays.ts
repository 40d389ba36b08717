// Operator-supplied overlays: secondary banding and application windows. No public source
// publishes either, so the project ships none; these parsers validate what an operator gives.
import { ImportFileError } from '../../errors.ts'
import { bandCode } from '../codes.ts'
import { parseCsv } from './csv.ts'
import { foldName } from './profiles.ts'

export interface BandingEntry {
  line: number | undefined
  /** Either the 12-digit school number or the Chinese name identifies the school. */
  schoolNo: string | null
  nameZh: string | null
  band: string
}

/** An entry of an overlay file that names a school but was not imported, and why. */
export interface SkippedEntry {
  line: number | undefined
  name: string
  reason: string
}

/**
 * Banding comes as CSV (`school_no` or `name_zh`, and `band`) or as JSON
 * `{ "banding": { "1A": ["school name", ...], ... } }` (or the same object at the top level).
 * Entries with no band (`n/a`, `none`, `unknown`, `-`) are skipped and listed.
 */
export function parseBanding(text: string, file: string, skipped: SkippedEntry[] = []): BandingEntry[] {
  const trimmed = text.trimStart()
  const entries = trimmed.startsWith('{') ? parseBandingJson(trimmed, file, skipped) : parseBandingCsv(text, file, skipped)
  if (entries.length === 0) throw new ImportFileError(file, undefined, undefined, 'contains no banding entries')
  return entries
}

const NO_BAND = /^(n\/?a|none|unknown|-)$/i

function parseBandingJson(text: string, file: string, skipped: SkippedEntry[]): BandingEntry[] {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (error) {
    throw new ImportFileError(file, undefined, undefined, `is not valid JSON: ${(error as Error).message}`, { cause: error })
  }
  const root = document as Record<string, unknown>
  const bands = (typeof root.banding === 'object' && root.banding !== null ? root.banding : root) as Record<string, unknown>
  const entries: BandingEntry[] = []
  for (const [rawBand, names] of Object.entries(bands)) {
    // `_source`, `_method`... are metadata; "n/a" lists schools the compiler could not band.
    if (rawBand.startsWith('_')) continue
    if (NO_BAND.test(rawBand)) {
      if (Array.isArray(names)) for (const name of names) skipped.push({ line: undefined, name: String(name).trim(), reason: `listed under '${rawBand}': no band` })
      continue
    }
    const band = bandCode(rawBand)
    if (!band) throw new ImportFileError(file, undefined, `banding.${rawBand}`, `'${rawBand}' is not a band (1, 1A ... 3C)`)
    if (!Array.isArray(names) || names.some((name) => typeof name !== 'string' || name.trim() === '')) {
      throw new ImportFileError(file, undefined, `banding.${rawBand}`, 'must be a list of school names')
    }
    for (const name of names as string[]) {
      const trimmed = name.trim()
      const isNumber = /^\d{12}$/.test(trimmed)
      entries.push({ line: undefined, schoolNo: isNumber ? trimmed : null, nameZh: isNumber ? null : trimmed, band })
    }
  }
  return entries
}

function parseBandingCsv(text: string, file: string, skipped: SkippedEntry[]): BandingEntry[] {
  const table = parseCsv(text, file, ['band'])
  if (!table.headers.includes('school_no') && !table.headers.includes('name_zh')) {
    throw new ImportFileError(file, 1, 'school_no', 'needs a school_no or a name_zh column')
  }
  return table.records.flatMap((record) => {
    const schoolNo = record.values.school_no?.trim() || null
    const nameZh = record.values.name_zh?.trim() || null
    if (schoolNo !== null && !/^\d{12}$/.test(schoolNo)) {
      throw new ImportFileError(file, record.line, 'school_no', `'${schoolNo}' is not a 12-digit school number`)
    }
    if (schoolNo === null && nameZh === null) throw new ImportFileError(file, record.line, 'school_no', 'neither school_no nor name_zh is given')
    const rawBand = record.values.band ?? ''
    if (NO_BAND.test(rawBand.trim())) {
      skipped.push({ line: record.line, name: (schoolNo ?? nameZh)!, reason: `band '${rawBand.trim()}': no band` })
      return []
    }
    const band = bandCode(rawBand)
    if (!band) throw new ImportFileError(file, record.line, 'band', `'${rawBand}' is not a band (1, 1A ... 3C)`)
    return [{ line: record.line, schoolNo, nameZh, band }]
  })
}

export interface ResolvedBanding {
  bySchoolNo: Map<string, string>
  unmatched: { line: number | undefined; name: string; reason: string }[]
}

/** Resolves names to secondary school numbers (every row of the named school gets the band). */
export function resolveBanding(entries: BandingEntry[], secondary: { schoolNo: string; nameZh: string }[], file: string): ResolvedBanding {
  const known = new Set(secondary.map((school) => school.schoolNo))
  const byName = new Map<string, string[]>()
  for (const school of secondary) {
    const key = foldName(school.nameZh)
    byName.set(key, [...(byName.get(key) ?? []), school.schoolNo])
  }
  const bySchoolNo = new Map<string, string>()
  const unmatched: ResolvedBanding['unmatched'] = []
  for (const entry of entries) {
    let numbers: string[]
    if (entry.schoolNo !== null) {
      if (!known.has(entry.schoolNo)) {
        throw new ImportFileError(file, entry.line, 'school_no', `${entry.schoolNo} is not a secondary school`)
      }
      numbers = [entry.schoolNo]
    } else {
      numbers = byName.get(foldName(entry.nameZh!)) ?? []
      if (numbers.length === 0) {
        unmatched.push({ line: entry.line, name: entry.nameZh!, reason: 'no secondary school with this name' })
        continue
      }
    }
    for (const schoolNo of numbers) {
      const previous = bySchoolNo.get(schoolNo)
      if (previous !== undefined && previous !== entry.band) {
        throw new ImportFileError(file, entry.line, 'band', `school ${schoolNo} is given bands ${previous} and ${entry.band}`)
      }
      bySchoolNo.set(schoolNo, entry.band)
    }
  }
  return { bySchoolNo, unmatched }
}

export interface ApplicationWindow {
  line: number
  schoolNo: string
  opensAt: Date
  closesAt: Date
}

/**
 * Application windows: CSV `school_no,opens,closes`. Dates are ISO 8601; a bare date
 * (2026-01-05) means that day in Hong Kong, and a bare closing date includes the whole day.
 */
export function parseApplicationWindows(text: string, file: string): ApplicationWindow[] {
  const table = parseCsv(text, file, ['school_no', 'opens', 'closes'])
  const windows = table.records.map((record) => {
    const schoolNo = record.values.school_no?.trim() ?? ''
    if (!/^\d{12}$/.test(schoolNo)) throw new ImportFileError(file, record.line, 'school_no', `'${schoolNo}' is not a 12-digit school number`)
    const opensAt = parseInstant(record.values.opens ?? '', false, file, record.line, 'opens')
    const closesAt = parseInstant(record.values.closes ?? '', true, file, record.line, 'closes')
    if (closesAt <= opensAt) throw new ImportFileError(file, record.line, 'closes', 'must be after opens')
    return { line: record.line, schoolNo, opensAt, closesAt }
  })
  if (windows.length === 0) throw new ImportFileError(file, undefined, undefined, 'contains no application windows')
  return windows
}

function parseInstant(raw: string, endOfDay: boolean, file: string, line: number, field: string): Date {
  const value = raw.trim()
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value)
  const iso = dateOnly ? `${value}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}+08:00` : value
  const instant = new Date(iso)
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(instant.getTime())) {
    throw new ImportFileError(file, line, field, `'${raw}' is not an ISO 8601 date or date-time`)
  }
  return instant
}
