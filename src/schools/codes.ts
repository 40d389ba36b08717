// Stable lowercase codes for the coded values of the EDB file. Clients filter by these codes;
// labels (English and Chinese) travel beside them. Codes are derived from the English value so
// a new value in a future file gets a code without a code change; the overrides keep the codes
// people expect for the long or odd ones.
import type { FilterDeclaration } from './model.ts'

const OVERRIDES: Record<string, Record<string, string>> = {
  category: {
    'DIRECT SUBSIDY SCHEME': 'dss',
    'ENGLISH SCHOOLS FOUNDATION': 'esf',
    'PRIVATE INDEPENDENT SCH SCHEME': 'pis',
  },
  session: { 'A.M.': 'am', 'P.M.': 'pm' },
  religion: { 'N.A.': 'none', 'NOT APPLICABLE': 'none' },
}

/** Labels that replace the source's where it spells one value several ways (religion 'none'). */
const CANONICAL_LABELS: Record<string, Record<string, { en: string; zh: string }>> = {
  religion: { none: { en: 'Not applicable', zh: '不適用' } },
}

/** English labels that title case gets wrong. */
const ENGLISH_LABELS: Record<string, Record<string, string>> = {
  category: { pis: 'Private Independent School Scheme', dss: 'Direct Subsidy Scheme', esf: 'English Schools Foundation' },
  gender: { 'co-ed': 'Co-educational' },
  session: { am: 'A.M.', pm: 'P.M.' },
  religion: { 'confucianism-buddhism-and-taoism': 'Confucianism, Buddhism and Taoism' },
}

/** The filter fields whose labels come with each school row (the EDB file's own words). */
export type CodedField = Extract<FilterDeclaration, { labels: 'row' }>['field']

export interface CodedValue {
  code: string
  en: string
  zh: string
}

export function slug(value: string): string {
  return value
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
}

/** Title case for labels the EDB file writes in capitals ("KOWLOON CITY" -> "Kowloon City"). */
export function titleCase(value: string): string {
  return value
    .toLowerCase()
    .replace(/(^|[\s/(-])([a-z])/g, (_match, before: string, letter: string) => before + letter.toUpperCase())
    .replace(/\b(And|Of|Or|The)\b/g, (word) => word.toLowerCase())
    .replace(/^([a-z])/, (letter) => letter.toUpperCase())
}

export function codeValue(field: CodedField, en: string, zh: string): CodedValue {
  const key = field === 'schoolGroup' ? 'schoolGroup' : field
  const upper = en.trim().toUpperCase()
  const code = OVERRIDES[key]?.[upper] ?? slug(en)
  const canonical = CANONICAL_LABELS[key]?.[code]
  if (canonical) return { code, ...canonical }
  // School groups are already in title case in the source ("Aided Primary Schools").
  const label = ENGLISH_LABELS[key]?.[code] ?? (field === 'schoolGroup' ? en.trim() : titleCase(en.trim()))
  return { code, en: label, zh: zh.trim() }
}

/** Operator banding values: "1A", "Band 1a", "1" -> "1a" / "1". */
export function bandCode(raw: string): string | undefined {
  const match = /^\s*(?:band\s*)?([1-3])\s*([abc])?\s*$/i.exec(raw)
  if (!match) return undefined
  return `${match[1]}${(match[2] ?? '').toLowerCase()}`
}

export function bandLabel(code: string): CodedValue {
  const upper = code.toUpperCase()
  const zhNumber = ['一', '二', '三'][Number(code[0]) - 1] ?? code[0]
  return { code, en: `Band ${upper}`, zh: `第${zhNumber}組別${code.length > 1 ? ` ${upper}` : ''}` }
}

/** The form names are stored and searched in: full-width folded (NFKC), lower case, single spaces. */
export function searchText(value: string): string {
  return value.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim()
}
