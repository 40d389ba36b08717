// What the school API keeps warm: the list queries in config/warm-targets.json, the filter
// options and stats, and (opt-in) every school's detail. Each key is warmed through the same
// SchoolReads method a request uses, so a warmed key is exactly the key a request reads.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { PROJECT_ROOT } from '../config.ts'
import type { WarmKey, WarmTarget, WarmTargetRegistry } from '../warmup/targets.ts'
import { DEFAULT_PAGE_SIZE, FILTER_FIELDS, LEVELS, type Level, type ListQuery } from './model.ts'
import type { SchoolRepository } from './repository.ts'
import type { ListRequest, SchoolReads } from './reads.ts'

export const WARM_TARGETS_FILE = path.join(PROJECT_ROOT, 'config', 'warm-targets.json')

export const SCHOOL_WARM_GROUPS = [
  { name: 'primary' },
  { name: 'secondary' },
  { name: 'filters' },
  { name: 'stats' },
  { name: 'details', optIn: true },
]

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

export function registerSchoolWarmTargets(registry: WarmTargetRegistry, reads: SchoolReads, repository: SchoolRepository, lists: WarmListConfig, onSkipped?: (level: Level, name: string, reason: string) => void): void {
  for (const group of SCHOOL_WARM_GROUPS) registry.defineGroup(group)

  for (const level of LEVELS) {
    const target: WarmTarget = {
      name: `${level}-lists`,
      group: level,
      keys: async () => {
        const keys: WarmKey[] = []
        // Read the codes from the database, not the cache: this may run right after an import.
        const options = await repository.filterOptions(level)
        for (const entry of lists[level]) {
          const query: ListQuery = reads.parseListRequest(level, toRequest(entry))
          try {
            // A configured query whose codes the data does not have (banding before an
            // overlay is imported) is skipped, not failed: there is nothing to warm.
            reads.assertKnownCodesIn(query, options)
          } catch (error) {
            onSkipped?.(level, entry.name, (error as Error).message)
            continue
          }
          keys.push({ key: reads.listKey(query), warm: () => reads.warmList(query) })
        }
        return keys
      },
    }
    registry.register(target)
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
    keys: async () => (await repository.allSchoolNos()).map((schoolNo) => ({ key: reads.detailKey(schoolNo), warm: () => reads.warmDetail(schoolNo) })),
  })
}
