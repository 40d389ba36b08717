// What the school API keeps warm, per level: the list queries in config/warm-targets.json and
// every filter combination the data has (derived at each run, see DerivedListSettings), the
// filter options, the stats, and (the 'details' group) every school's detail. Each key is warmed
// through the same SchoolReads method a request uses, so a warmed key is exactly the key a
// request reads.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { PROJECT_ROOT } from '../config.ts'
import { loadInBatches } from '../warmup/batches.ts'
import type { WarmKey, WarmTargetRegistry } from '../warmup/targets.ts'
import { DEFAULT_PAGE_SIZE, FILTER_FIELDS, LEVELS, type FilterOptions, type Level, type ListQuery } from './model.ts'
import type { SchoolRepository } from './repository.ts'
import type { ListRequest, SchoolReads } from './reads.ts'

export const WARM_TARGETS_FILE = path.join(PROJECT_ROOT, 'config', 'warm-targets.json')

export const SCHOOL_WARM_GROUPS = [
  { name: 'primary' },
  { name: 'secondary' },
  { name: 'filters' },
  { name: 'stats' },
  // Opt-in: 'all' (the boot warmup, a bare CLI `warmup`) leaves it out; the daily scheduled jobs
  // name it (config.ts DEFAULT_SCHEDULE).
  { name: 'details', optIn: true },
]

/** Details loaded per query when warming them (a detail is a few kB of JSON). */
const DETAIL_BATCH = 100

/**
 * The list pages derived from the data: page 1..`pages` of every combination of up to
 * `maxFilters` filters, one code each, that matches at least one school. With the bundled data
 * and the defaults (2 filters, page 1) that is about 1,400 pages: what a visitor reaches by
 * picking from the filter menus. `npm run bench` replays a Zipf mix over that space.
 */
export interface DerivedListSettings {
  maxFilters: number
  pages: number
}

export interface SchoolWarmOptions {
  lists: WarmListConfig
  derivedLists: DerivedListSettings
  /** A configured query that cannot run on the loaded data (an unknown code) is skipped and reported here. */
  onSkipped?: (level: Level, name: string, reason: string) => void
}

export interface WarmListEntry {
  name: string
  page?: number
  pageSize?: number
  [field: string]: unknown
}

export type WarmListConfig = Record<Level, WarmListEntry[]>

/** Reads and checks the editable list of warm queries; a typo fails at start, naming the entry. */
export function loadWarmListConfig(file = WARM_TARGETS_FILE): WarmListConfig {
  const document = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  const result = {} as WarmListConfig
  for (const level of LEVELS) {
    const entries = document[level]
    if (!Array.isArray(entries)) throw new Error(`${file}: '${level}' must be a list of queries`)
    result[level] = entries.map((entry: WarmListEntry, index) => {
      const allowed = new Set<string>(['name', 'page', 'pageSize', ...FILTER_FIELDS[level]])
      const unknown = Object.keys(entry).find((key) => !allowed.has(key))
      if (typeof entry.name !== 'string' || unknown !== undefined) {
        throw new Error(`${file}: ${level}[${index}] ${unknown ? `has unknown field '${unknown}'` : 'needs a name'}`)
      }
      return entry
    })
  }
  return result
}

function toRequest(entry: WarmListEntry): ListRequest {
  const request: ListRequest = { page: entry.page ?? 1, pageSize: entry.pageSize ?? DEFAULT_PAGE_SIZE }
  for (const [field, value] of Object.entries(entry)) {
    if (field !== 'name' && field !== 'page' && field !== 'pageSize') request[field] = Array.isArray(value) ? value.map(String) : [String(value)]
  }
  return request
}

export function registerSchoolWarmTargets(registry: WarmTargetRegistry, reads: SchoolReads, repository: SchoolRepository, options: SchoolWarmOptions): void {
  for (const group of SCHOOL_WARM_GROUPS) registry.defineGroup(group)

  for (const level of LEVELS) {
    registry.register({
      name: `${level}-lists`,
      group: level,
      keys: async () => {
        // Read the codes from the database, not the cache: this may run right after an import.
        const filterOptions = await repository.filterOptions(level)
        const queries = configuredQueries(reads, level, options.lists[level], filterOptions, options.onSkipped)
        queries.push(...(await derivedQueries(reads, repository, level, options.derivedLists)))
        // A derived query the configuration also lists is warmed once (the runner drops repeated keys).
        return queries.map((query): WarmKey => ({ key: reads.listKey(query), warm: () => reads.warmList(query) }))
      },
    })
  }

  registry.register({
    name: 'filter-options',
    group: 'filters',
    keys: () => LEVELS.map((level) => ({ key: reads.filterOptionsKey(level), warm: () => reads.warmFilterOptions(level) })),
  })
  registry.register({
    name: 'stats',
    group: 'stats',
    keys: () => [{ key: reads.statsKey, warm: () => reads.warmStats() }],
  })
  registry.register({
    name: 'school-details',
    group: 'details',
    keys: async () => {
      const schoolNos = await repository.allSchoolNos()
      const loads = loadInBatches(schoolNos, DETAIL_BATCH, (batch) => repository.details(batch))
      return schoolNos.map((schoolNo, index): WarmKey => ({ key: reads.detailKey(schoolNo), warm: () => reads.warmDetail(schoolNo, loads[index]) }))
    },
  })
}

function configuredQueries(reads: SchoolReads, level: Level, entries: WarmListEntry[], filterOptions: FilterOptions, onSkipped: SchoolWarmOptions['onSkipped']): ListQuery[] {
  const queries: ListQuery[] = []
  for (const entry of entries) {
    const query = reads.parseListRequest(level, toRequest(entry))
    try {
      // A configured query whose codes the data does not have (banding before an overlay is
      // imported) is skipped, not failed: there is nothing to warm.
      reads.assertKnownCodesIn(query, filterOptions)
    } catch (error) {
      onSkipped?.(level, entry.name, (error as Error).message)
      continue
    }
    queries.push(query)
  }
  return queries
}

async function derivedQueries(reads: SchoolReads, repository: SchoolRepository, level: Level, settings: DerivedListSettings): Promise<ListQuery[]> {
  if (settings.maxFilters < 1) return []
  const queries: ListQuery[] = []
  for (const { filters, total } of await repository.filterCombinations(level, settings.maxFilters)) {
    const lastPage = Math.max(1, Math.ceil(total / DEFAULT_PAGE_SIZE))
    for (let page = 1; page <= Math.min(settings.pages, lastPage); page += 1) {
      queries.push(reads.parseListRequest(level, { page, pageSize: DEFAULT_PAGE_SIZE, ...filters }))
    }
  }
  return queries
}
