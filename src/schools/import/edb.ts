// Reads the EDB "School Location and Information" file into school records, validating each
// field it relies on. One record is one EDB row: a school at one site and session.
import { ImportFileError } from '../../errors.ts'
import { codeValue, type CodedValue } from '../codes.ts'
import { parseCsv, type CsvRecord } from './csv.ts'

export type Level = 'primary' | 'secondary'

export interface SchoolRecord {
  schoolNo: string
  schoolId: string
  level: Level
  nameEn: string
  nameZh: string
  addressEn: string | null
  addressZh: string | null
  district: CodedValue
  category: CodedValue
  schoolGroup: CodedValue
  gender: CodedValue
  session: CodedValue
  religion: CodedValue
  phone: string | null
  fax: string | null
  website: string | null
  latitude: number | null
  longitude: number | null
  easting: number | null
  northing: number | null
}

export interface EdbParseResult {
  schools: SchoolRecord[]
  /** Rows of other levels (kindergartens), counted but not served. */
  skippedByLevel: Record<string, number>
}

const COLUMNS = {
  schoolNo: 'SCHOOL NO.',
  groupEn: 'ENGLISH CATEGORY',
  groupZh: '中文類別',
  nameEn: 'ENGLISH NAME',
  nameZh: '中文名稱',
  addressEn: 'ENGLISH ADDRESS',
  addressZh: '中文地址',
  longitude: 'LONGITUDE',
  latitude: 'LATITUDE',
  easting: 'EASTING',
  northing: 'NORTHING',
  genderEn: 'STUDENTS GENDER',
  genderZh: '就讀學生性別',
  sessionEn: 'SESSION',
  sessionZh: '學校授課時間',
  districtEn: 'DISTRICT',
  districtZh: '分區',
  financeEn: 'FINANCE TYPE',
  financeZh: '資助種類',
  level: 'SCHOOL LEVEL',
  phone: 'TELEPHONE',
  fax: 'FAX NUMBER',
  website: 'WEBSITE',
  religionEn: 'RELIGION',
  religionZh: '宗教',
} as const

const LEVELS: Record<string, Level> = { PRIMARY: 'primary', SECONDARY: 'secondary' }

export function parseEdbSchools(text: string, file: string): EdbParseResult {
  const table = parseCsv(text, file, Object.values(COLUMNS))
  const schools: SchoolRecord[] = []
  const skippedByLevel: Record<string, number> = {}
  const seen = new Map<string, number>()
  for (const record of table.records) {
    const levelRaw = required(record, COLUMNS.level, file)
    const level = LEVELS[levelRaw.toUpperCase()]
    if (!level) {
      if (!/^KINDERGARTEN/i.test(levelRaw)) {
        throw new ImportFileError(file, record.line, COLUMNS.level, `unknown school level '${levelRaw}'`)
      }
      skippedByLevel[levelRaw] = (skippedByLevel[levelRaw] ?? 0) + 1
      continue
    }
    const schoolNo = required(record, COLUMNS.schoolNo, file)
    if (!/^\d{12}$/.test(schoolNo)) {
      throw new ImportFileError(file, record.line, COLUMNS.schoolNo, `'${schoolNo}' is not a 12-digit school number`)
    }
    const previous = seen.get(schoolNo)
    if (previous !== undefined) {
      throw new ImportFileError(file, record.line, COLUMNS.schoolNo, `school number ${schoolNo} repeats line ${previous}`)
    }
    seen.set(schoolNo, record.line)
    schools.push({
      schoolNo,
      schoolId: schoolNo.slice(0, 6),
      level,
      nameEn: required(record, COLUMNS.nameEn, file),
      nameZh: required(record, COLUMNS.nameZh, file),
      addressEn: optional(record, COLUMNS.addressEn),
      addressZh: optional(record, COLUMNS.addressZh),
      district: coded(record, 'district', COLUMNS.districtEn, COLUMNS.districtZh, file),
      category: coded(record, 'category', COLUMNS.financeEn, COLUMNS.financeZh, file),
      schoolGroup: coded(record, 'schoolGroup', COLUMNS.groupEn, COLUMNS.groupZh, file),
      gender: coded(record, 'gender', COLUMNS.genderEn, COLUMNS.genderZh, file),
      session: coded(record, 'session', COLUMNS.sessionEn, COLUMNS.sessionZh, file),
      religion: coded(record, 'religion', COLUMNS.religionEn, COLUMNS.religionZh, file),
      phone: optional(record, COLUMNS.phone),
      fax: optional(record, COLUMNS.fax),
      website: optional(record, COLUMNS.website),
      latitude: coordinate(record, COLUMNS.latitude, file, 22.1, 22.6),
      longitude: coordinate(record, COLUMNS.longitude, file, 113.8, 114.5),
      easting: coordinate(record, COLUMNS.easting, file, 790_000, 870_000),
      northing: coordinate(record, COLUMNS.northing, file, 800_000, 850_000),
    })
  }
  if (schools.length === 0) throw new ImportFileError(file, undefined, COLUMNS.level, 'has no primary or secondary school rows')
  return { schools, skippedByLevel }
}

function required(record: CsvRecord, column: string, file: string): string {
  const value = record.values[column]?.trim() ?? ''
  if (value === '') throw new ImportFileError(file, record.line, column, 'is empty')
  return value
}

function optional(record: CsvRecord, column: string): string | null {
  const value = record.values[column]?.trim() ?? ''
  return value === '' || /^(N\.A\.|-)$/i.test(value) ? null : value
}

function coded(record: CsvRecord, field: Parameters<typeof codeValue>[0], enColumn: string, zhColumn: string, file: string): CodedValue {
  const value = codeValue(field, required(record, enColumn, file), required(record, zhColumn, file))
  if (value.code === '') throw new ImportFileError(file, record.line, enColumn, `'${record.values[enColumn]}' gives no usable code`)
  return value
}

/** Hong Kong's bounds, so a swapped or mistyped coordinate is caught at import. */
function coordinate(record: CsvRecord, column: string, file: string, min: number, max: number): number | null {
  const raw = record.values[column]?.trim() ?? ''
  if (raw === '') return null
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ImportFileError(file, record.line, column, `'${raw}' is not a coordinate in Hong Kong (${min} to ${max})`)
  }
  return value
}
