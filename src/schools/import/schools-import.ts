// `schools import`: loads the EDB school list, the POA school nets and the Primary School
// Profiles in one transaction. Any malformed file is refused before a single row is written,
// with a message naming the file, line and field; re-importing identical files writes nothing.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Database, Queryable } from '../../db/database.ts'
import { ImportFileError } from '../../errors.ts'
import { searchText } from '../codes.ts'
import { refreshFacets } from '../facets.ts'
import { deleteMissing, upsertRows, type Column } from './bulk.ts'
import { decodeText } from './csv.ts'
import { bumpGeneration } from './generation.ts'
import { parseEdbSchools, type SchoolRecord } from './edb.ts'
import { parseSchoolNets, type SchoolNetRecord } from './nets.ts'
import { joinProfiles, parseProfiles, type ProfileJoin, type ProfileMatch } from './profiles.ts'

export interface SchoolSourceFiles {
  schools: string
  nets: string
  profiles: string
}

export function bundledSourceFiles(sourceDir: string): SchoolSourceFiles {
  return {
    schools: path.join(sourceDir, 'edb', 'SCH_LOC_EDB.csv'),
    nets: path.join(sourceDir, 'edb', 'POA_SchoolNet_TC.csv'),
    profiles: path.join(sourceDir, 'chsc', 'PSP_2025_tc.csv'),
  }
}

export interface SchoolImportSummary {
  /** True when every row already matched the files: nothing was written. */
  unchanged: boolean
  rows: { primary: number; secondary: number }
  skippedByLevel: Record<string, number>
  nets: number
  profiles: { total: number; matched: number; exact: number; folded: number; alias: number; unmatched: ProfileJoin['unmatched'] }
  inserted: number
  updated: number
  deleted: number
  /** School numbers whose stored data changed: what a cache has to invalidate. */
  changedSchoolNos: string[]
}

export async function readSourceFile(file: string): Promise<{ text: string; sha256: string }> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (error) {
    throw new ImportFileError(file, undefined, undefined, `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error })
  }
  return { text: decodeText(bytes, file), sha256: createHash('sha256').update(bytes).digest('hex') }
}

export async function importSchools(db: Database, files: SchoolSourceFiles): Promise<SchoolImportSummary> {
  const [schoolsFile, netsFile, profilesFile] = await Promise.all([readSourceFile(files.schools), readSourceFile(files.nets), readSourceFile(files.profiles)])
  // Parse and validate everything before touching the database.
  const { schools, skippedByLevel } = parseEdbSchools(schoolsFile.text, files.schools)
  const nets = parseSchoolNets(netsFile.text, files.nets)
  const profiles = parseProfiles(profilesFile.text, files.profiles, new Set(nets.map((net) => net.net)))
  const join = joinProfiles(profiles, schools)
  const netBySchool = new Map<string, string | null>()
  for (const match of join.matches) for (const schoolNo of match.schoolNos) netBySchool.set(schoolNo, match.profile.schoolNet)

  const changed = await db.transaction(async (tx) => {
    const netResult = await upsertRows(tx, 'school_nets', ['net'], NET_COLUMNS, nets)
    const schoolResult = await upsertRows(tx, 'schools', ['school_no'], schoolColumns(netBySchool), schools)
    const deletedSchools = await deleteMissing(tx, 'schools', 'school_no', schools.map((school) => school.schoolNo))
    const profileRows = join.matches.flatMap((match) => match.schoolNos.map((schoolNo) => ({ schoolNo, match })))
    const profileResult = await upsertRows(tx, 'school_profiles', ['school_no'], PROFILE_COLUMNS, profileRows)
    const deletedProfiles = await deleteMissing(tx, 'school_profiles', 'school_no', profileRows.map((row) => row.schoolNo))
    const deletedNets = await deleteMissing(tx, 'school_nets', 'net', nets.map((net) => net.net))
    const changedSchoolNos = new Set([...schoolResult.inserted, ...schoolResult.updated, ...deletedSchools, ...profileResult.inserted, ...profileResult.updated, ...deletedProfiles])
    const anything = changedSchoolNos.size + netResult.inserted.length + netResult.updated.length + deletedNets.length
    if (anything > 0) {
      await refreshFacets(tx)
      await recordImport(tx, 'schools', files.schools, [schoolsFile.sha256, netsFile.sha256, profilesFile.sha256], schools.length, {
        inserted: schoolResult.inserted.length,
        updated: schoolResult.updated.length,
        deleted: deletedSchools.length,
      })
    }
    return { schoolResult, deletedSchools, changedSchoolNos: [...changedSchoolNos].sort(), anything }
  })

  const count = (via: ProfileMatch['via']): number => join.matches.filter((match) => match.via === via).length
  return {
    unchanged: changed.anything === 0,
    rows: { primary: schools.filter((school) => school.level === 'primary').length, secondary: schools.filter((school) => school.level === 'secondary').length },
    skippedByLevel,
    nets: nets.length,
    profiles: { total: profiles.length, matched: join.matches.length, exact: count('exact'), folded: count('folded'), alias: count('alias'), unmatched: join.unmatched },
    inserted: changed.schoolResult.inserted.length,
    updated: changed.schoolResult.updated.length,
    deleted: changed.deletedSchools.length,
    changedSchoolNos: changed.changedSchoolNos,
  }
}

/**
 * Records an import that changed data, and bumps the data generation in the same transaction:
 * every import that changes anything comes through here, so cached values built before it are
 * known to be outdated (generation.ts).
 */
export async function recordImport(tx: Queryable, kind: string, file: string, hashes: string[], rows: number, summary: object): Promise<void> {
  await bumpGeneration(tx)
  const sha256 = hashes.length === 1 ? hashes[0]! : createHash('sha256').update(hashes.join(':')).digest('hex')
  await tx.query('INSERT INTO imports (kind, file, sha256, rows, summary) VALUES ($1, $2, $3, $4, $5::jsonb)', [kind, path.basename(file), sha256, rows, JSON.stringify(summary)])
}

const NET_COLUMNS: Column<SchoolNetRecord>[] = [
  { name: 'net', type: 'text', value: (net) => net.net },
  { name: 'area_zh', type: 'text', value: (net) => net.areaZh },
  { name: 'webpage', type: 'text', value: (net) => net.webpage },
]

function schoolColumns(netBySchool: Map<string, string | null>): Column<SchoolRecord>[] {
  const coded = (name: string, pick: (school: SchoolRecord) => { code: string; en: string; zh: string }): Column<SchoolRecord>[] => [
    { name, type: 'text', value: (school) => pick(school).code },
    { name: `${name}_en`, type: 'text', value: (school) => pick(school).en },
    { name: `${name}_zh`, type: 'text', value: (school) => pick(school).zh },
  ]
  return [
    { name: 'school_no', type: 'text', value: (school) => school.schoolNo },
    { name: 'school_id', type: 'text', value: (school) => school.schoolId },
    { name: 'level', type: 'text', value: (school) => school.level },
    { name: 'name_en', type: 'text', value: (school) => school.nameEn },
    { name: 'name_zh', type: 'text', value: (school) => school.nameZh },
    { name: 'address_en', type: 'text', value: (school) => school.addressEn },
    { name: 'address_zh', type: 'text', value: (school) => school.addressZh },
    ...coded('district', (school) => school.district),
    ...coded('category', (school) => school.category),
    ...coded('school_group', (school) => school.schoolGroup),
    ...coded('gender', (school) => school.gender),
    ...coded('session', (school) => school.session),
    ...coded('religion', (school) => school.religion),
    { name: 'phone', type: 'text', value: (school) => school.phone },
    { name: 'fax', type: 'text', value: (school) => school.fax },
    { name: 'website', type: 'text', value: (school) => school.website },
    { name: 'latitude', type: 'double precision', value: (school) => school.latitude },
    { name: 'longitude', type: 'double precision', value: (school) => school.longitude },
    { name: 'easting', type: 'double precision', value: (school) => school.easting },
    { name: 'northing', type: 'double precision', value: (school) => school.northing },
    { name: 'school_net', type: 'text', value: (school) => netBySchool.get(school.schoolNo) ?? null },
    { name: 'search_name', type: 'text', value: (school) => searchText(`${school.nameEn} ${school.nameZh}`) },
  ]
}

const PROFILE_COLUMNS: Column<{ schoolNo: string; match: ProfileMatch }>[] = [
  { name: 'school_no', type: 'text', value: (row) => row.schoolNo },
  { name: 'profile_name_zh', type: 'text', value: (row) => row.match.profile.nameZh },
  ...(
    [
      ['sponsoring_body', 'sponsoringBody', 'text'],
      ['founded_year', 'foundedYear', 'integer'],
      ['motto', 'motto', 'text'],
      ['medium_of_instruction', 'mediumOfInstruction', 'text'],
      ['email', 'email', 'text'],
      ['school_area_m2', 'schoolAreaM2', 'integer'],
      ['tuition_fee', 'tuitionFee', 'text'],
      ['pta_fee', 'ptaFee', 'text'],
      ['through_train_secondary', 'throughTrainSecondary', 'text'],
      ['feeder_secondary', 'feederSecondary', 'text'],
      ['linked_secondary', 'linkedSecondary', 'text'],
      ['classrooms', 'classrooms', 'integer'],
      ['halls', 'halls', 'integer'],
      ['playgrounds', 'playgrounds', 'integer'],
      ['libraries', 'libraries', 'integer'],
      ['approved_teachers', 'approvedTeachers', 'integer'],
      ['total_teachers', 'totalTeachers', 'integer'],
      ['classes_this_year', 'classesThisYear', 'integer'],
      ['school_bus', 'schoolBus', 'text'],
    ] as const
  ).map(([name, field, type]): Column<{ schoolNo: string; match: ProfileMatch }> => ({ name, type, value: (row) => row.match.profile.typed[field] })),
  { name: 'extra', type: 'jsonb', value: (row) => row.match.profile.extra },
]
