// Every request the replay may send, enumerated from the data itself: for each level the
// unfiltered list, every filter value, and every combination of two filters (two different
// fields, one code each) that matches at least one school, pages 1-5 where they exist; every
// school's detail; both levels' filter options; the stats. Comma lists (OR within a field),
// other page sizes and free-text searches are left out: they are not a bounded set.
import type { Database } from '../src/db/database.ts'
import { DEFAULT_PAGE_SIZE, FILTER_FIELDS, LEVELS, type FilterField, type Level } from '../src/schools/model.ts'
import { FILTER_COLUMNS } from '../src/schools/repository.ts'

export type RequestKind = 'list' | 'detail' | 'filters' | 'stats'

export interface ListSpec {
  level: Level
  filters: [FilterField, string][]
  page: number
  /** Schools matching the filters (all pages). */
  total: number
}

export interface ReplayRequest {
  url: string
  kind: RequestKind
  /** Coarse class for reporting where misses fall, e.g. 'list, 2 filters, page 1'. */
  group: string
  list?: ListSpec
  schoolNo?: string
  level?: Level
}

const MAX_PAGE = 5


export function listUrl(spec: Pick<ListSpec, 'level' | 'filters' | 'page'>): string {
  const params = new URLSearchParams(spec.filters)
  if (spec.page > 1) params.set('page', String(spec.page))
  const query = params.toString()
  return `/api/schools/${spec.level}${query ? `?${query}` : ''}`
}

/** Counts of every filter combination of up to two fields, from one scan of the level's rows. */
async function combinationCounts(db: Database, level: Level): Promise<Map<string, { filters: [FilterField, string][]; total: number }>> {
  const fields = FILTER_FIELDS[level]
  const rows = await db.query<Record<string, string | null>>(
    `SELECT ${fields.map((field) => `${FILTER_COLUMNS[field]} AS "${field}"`).join(', ')}
     FROM schools s LEFT JOIN secondary_banding b ON b.school_no = s.school_no WHERE s.level = $1`,
    [level],
  )
  const counts = new Map<string, { filters: [FilterField, string][]; total: number }>()
  const bump = (filters: [FilterField, string][]): void => {
    const id = JSON.stringify(filters)
    const entry = counts.get(id)
    if (entry) entry.total += 1
    else counts.set(id, { filters, total: 1 })
  }
  for (const row of rows) {
    const present = fields.filter((field) => row[field] !== null && row[field] !== undefined).map((field): [FilterField, string] => [field, row[field]!])
    bump([])
    for (let i = 0; i < present.length; i += 1) {
      bump([present[i]!])
      for (let j = i + 1; j < present.length; j += 1) bump([present[i]!, present[j]!])
    }
  }
  return counts
}

export async function enumerateListSpecs(db: Database): Promise<ListSpec[]> {
  const specs: ListSpec[] = []
  for (const level of LEVELS) {
    for (const { filters, total } of (await combinationCounts(db, level)).values()) {
      const pages = Math.min(MAX_PAGE, Math.max(1, Math.ceil(total / DEFAULT_PAGE_SIZE)))
      for (let page = 1; page <= pages; page += 1) specs.push({ level, filters, page, total })
    }
  }
  return specs
}

export function listGroup(spec: ListSpec): string {
  const filters = spec.filters.length === 0 ? 'no filter' : spec.filters.length === 1 ? '1 filter' : '2 filters'
  return `list, ${filters}, page ${spec.page === 1 ? '1' : '2-5'}`
}

export async function enumerateRequests(db: Database): Promise<{ lists: ReplayRequest[]; details: ReplayRequest[]; meta: ReplayRequest[] }> {
  const lists = (await enumerateListSpecs(db)).map((spec): ReplayRequest => ({ url: listUrl(spec), kind: 'list', group: listGroup(spec), list: spec }))
  const schoolNos = await db.query<{ school_no: string }>(`SELECT school_no FROM schools WHERE level IN ('primary', 'secondary') ORDER BY school_no`)
  const details = schoolNos.map(({ school_no }): ReplayRequest => ({ url: `/api/schools/${school_no}`, kind: 'detail', group: 'detail', schoolNo: school_no }))
  const meta: ReplayRequest[] = [
    ...LEVELS.map((level): ReplayRequest => ({ url: `/api/schools/filters?level=${level}`, kind: 'filters', group: 'filter options', level })),
    { url: '/api/schools/stats', kind: 'stats', group: 'stats' },
  ]
  return { lists, details, meta }
}
