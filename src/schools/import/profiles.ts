// The Primary School Profiles (CHSC) carry no school number: they join to EDB rows by
// Chinese name. Names are folded (full-width forms, spaces, bracket styles, variant
// characters) and the few that still differ are named in an explicit alias table.
import { ImportFileError } from '../../errors.ts'
import { parseCsv } from './csv.ts'
import type { SchoolRecord } from './edb.ts'

/** Profile names that no folding makes equal to the EDB name: profile name -> EDB school number. */
export const PROFILE_ALIASES: Readonly<Record<string, string>> = {
  '漢華中學（小學部）': '512079000223',
  '拔萃男書院附屬小學': '510777000123',
  '九龍塘學校（小學部）': '512516000123',
  '聖若望英文書院（小學部）': '212466000423',
  '新界婦孺福利會梁省德學校': '114707000123',
}

// Variant forms the two publishers use for the same character.
const VARIANTS: Record<string, string> = { 温: '溫', 衞: '衛', 啓: '啟', 峯: '峰', 綫: '線', 着: '著', 麪: '麵', 裏: '裡' }

export function foldName(name: string): string {
  return name
    .normalize('NFKC')
    .replace(/[\s\u3000]+/g, '')
    .replace(/[〈《「『【〔]/g, '(')
    .replace(/[〉》」』】〕]/g, ')')
    .replace(/./gu, (char) => VARIANTS[char] ?? char)
    .toLowerCase()
}

export interface ProfileRecord {
  line: number
  nameZh: string
  districtZh: string
  /** Net number, or null for schools outside the net system ('/') or left blank. */
  schoolNet: string | null
  typed: TypedProfile
  extra: Record<string, string>
}

export interface TypedProfile {
  sponsoringBody: string | null
  foundedYear: number | null
  motto: string | null
  mediumOfInstruction: string | null
  email: string | null
  schoolAreaM2: number | null
  tuitionFee: string | null
  ptaFee: string | null
  throughTrainSecondary: string | null
  feederSecondary: string | null
  linkedSecondary: string | null
  classrooms: number | null
  halls: number | null
  playgrounds: number | null
  libraries: number | null
  approvedTeachers: number | null
  totalTeachers: number | null
  classesThisYear: number | null
  schoolBus: string | null
}

const TEXT_FIELDS = {
  sponsoringBody: '辦學團體',
  motto: '校訓',
  mediumOfInstruction: '教學語言',
  email: '學校電郵',
  tuitionFee: '學費',
  ptaFee: '家長教師會費',
  throughTrainSecondary: '一條龍中學',
  feederSecondary: '直屬中學',
  linkedSecondary: '聯繫中學',
  schoolBus: '校車',
} as const

const NUMBER_FIELDS = {
  foundedYear: '創校年份',
  schoolAreaM2: '學校佔地面積',
  classrooms: '課室數目',
  halls: '禮堂數目',
  playgrounds: '操場數目',
  libraries: '圖書館數目',
  approvedTeachers: '上學年核准編制教師職位數目',
  totalTeachers: '上學年教師總人數',
  classesThisYear: '本學年總班數',
} as const

const NAME = '學校名稱'
const DISTRICT = '區域'
const NET = '小一學校網'
const IDENTITY_COLUMNS = new Set<string>([NAME, DISTRICT, NET])

export function parseProfiles(text: string, file: string, knownNets: ReadonlySet<string>): ProfileRecord[] {
  const table = parseCsv(text, file, [NAME, DISTRICT, NET, ...Object.values(TEXT_FIELDS), ...Object.values(NUMBER_FIELDS)])
  const typedColumns = new Set<string>([...Object.values(TEXT_FIELDS), ...Object.values(NUMBER_FIELDS)])
  return table.records.map((record) => {
    const value = (column: string): string | null => {
      const raw = record.values[column]?.trim() ?? ''
      return raw === '' || raw === '-' ? null : raw.replace(/^"(.*)"$/, '$1')
    }
    const nameZh = value(NAME)
    if (!nameZh) throw new ImportFileError(file, record.line, NAME, 'is empty')
    const net = value(NET)
    const schoolNet = net === null || net === '/' ? null : net
    if (schoolNet !== null && !knownNets.has(schoolNet)) {
      throw new ImportFileError(file, record.line, NET, `school net '${schoolNet}' is not in the POA school net list`)
    }
    const typed = {} as Record<string, string | number | null>
    for (const [key, column] of Object.entries(TEXT_FIELDS)) typed[key] = value(column)
    for (const [key, column] of Object.entries(NUMBER_FIELDS)) {
      const raw = value(column)
      const digits = raw?.replace(/[,\s]/g, '').match(/^\d+/)?.[0]
      typed[key] = digits === undefined ? null : Number(digits)
    }
    const extra: Record<string, string> = {}
    for (const header of table.headers) {
      const raw = value(header)
      if (raw !== null && !IDENTITY_COLUMNS.has(header) && !typedColumns.has(header)) extra[header] = raw
    }
    return { line: record.line, nameZh, districtZh: value(DISTRICT) ?? '', schoolNet, typed: typed as unknown as TypedProfile, extra }
  })
}

export interface ProfileMatch {
  profile: ProfileRecord
  schoolNos: string[]
  via: 'exact' | 'folded' | 'alias'
}

export interface ProfileJoin {
  matches: ProfileMatch[]
  unmatched: { line: number; nameZh: string; reason: string }[]
}

/**
 * Matches each profile to the primary EDB rows of its school: every row (session, campus) that
 * shares the school id of the row the name points at. Where one name is used by two different
 * schools, the profile's district decides.
 */
export function joinProfiles(profiles: ProfileRecord[], schools: SchoolRecord[]): ProfileJoin {
  const primary = schools.filter((school) => school.level === 'primary')
  const byNo = new Map(primary.map((school) => [school.schoolNo, school]))
  const byExact = groupBy(primary, (school) => school.nameZh)
  const byFolded = groupBy(primary, (school) => foldName(school.nameZh))
  const matches: ProfileMatch[] = []
  const unmatched: ProfileJoin['unmatched'] = []
  for (const profile of profiles) {
    const alias = PROFILE_ALIASES[profile.nameZh]
    let via: ProfileMatch['via'] = 'exact'
    let candidates = byExact.get(profile.nameZh) ?? []
    if (alias !== undefined) {
      via = 'alias'
      candidates = byNo.has(alias) ? [byNo.get(alias)!] : []
    } else if (candidates.length === 0) {
      via = 'folded'
      candidates = byFolded.get(foldName(profile.nameZh)) ?? []
    }
    const schoolIds = new Set(candidates.map((school) => school.schoolId))
    if (schoolIds.size > 1) {
      candidates = candidates.filter((school) => districtMatches(profile.districtZh, school.district.zh))
    }
    const chosenIds = new Set(candidates.map((school) => school.schoolId))
    if (chosenIds.size !== 1) {
      unmatched.push({
        line: profile.line,
        nameZh: profile.nameZh,
        reason: chosenIds.size === 0 ? 'no primary school with this name' : `name is shared by schools ${[...chosenIds].join(', ')}`,
      })
      continue
    }
    const schoolId = [...chosenIds][0]!
    const siblings = primary.filter((school) => school.schoolId === schoolId && foldName(school.nameZh) === foldName(candidates[0]!.nameZh))
    matches.push({ profile, schoolNos: siblings.map((school) => school.schoolNo), via })
  }
  return { matches, unmatched }
}

/** The profiles write "香港東區" where the EDB writes "東區". */
function districtMatches(profileDistrict: string, edbDistrict: string): boolean {
  return profileDistrict === edbDistrict || profileDistrict.endsWith(edbDistrict)
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) {
    const name = key(item)
    groups.set(name, [...(groups.get(name) ?? []), item])
  }
  return groups
}
