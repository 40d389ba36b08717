// The `learned` warm group: the keys the deployment's users actually ask for, from the request
// statistics (src/traffic), added to the configured and derived targets. Each warmup picks the
// most requested keys that, with what is warm already, cover WARM_LEARNED_COVERAGE of the last
// WARM_LEARNED_DAYS days (at most WARM_LEARNED_MAX_KEYS), checks each as a request would, and
// warms it through the same SchoolReads method a request uses. A key the data no longer allows
// (an unknown code, a page past the end, a school that is gone) is dropped and reported, never
// a failed key. A learned search is warmed, and then read, in the shared tier like a list: it
// is popular across users by construction (counted only above SEARCH_STATS_THRESHOLD), and the
// local tier's one-minute life would end long before the next request after a daily warmup.
import { readFileSync } from 'node:fs'
import { AppError, InvalidParameterError, NotFoundError } from '../errors.ts'
import { keyMatcher, selectLearned } from '../traffic/learned-selection.ts'
import type { KeyTotal, RequestStatsStore } from '../traffic/stats-store.ts'
import type { WarmKey, WarmTargetRegistry } from '../warmup/targets.ts'
import { parseLearnedKey, requestClassOfKey, type LearnedRead } from './learned-keys.ts'
import { LEVELS, type FilterOptions, type Level } from './model.ts'
import type { SchoolReads } from './reads.ts'
import type { SchoolRepository } from './repository.ts'
import { WARM_TARGETS_FILE } from './warm-targets.ts'

export const LEARNED_GROUP = 'learned'

export interface LearnedSettings {
  enabled: boolean
  /** Target share of the window's requests (0..1). */
  coverage: number
  maxKeys: number
  /** Requests a key needs in the window to be learned (pinned keys need none). */
  minRequests: number
  windowDays: number
}

/** Operator control from config/warm-targets.json: `"learned": { "pin": [...], "exclude": [...] }` (exact keys or 'prefix*'). */
export interface LearnedControl {
  pin: string[]
  exclude: string[]
}

export function loadLearnedControl(file = WARM_TARGETS_FILE): LearnedControl {
  const document = JSON.parse(readFileSync(file, 'utf8')) as { learned?: { pin?: unknown; exclude?: unknown } }
  const section = document.learned ?? {}
  const list = (value: unknown, name: string): string[] => {
    if (value === undefined) return []
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item === '' || item.length > 512)) throw new Error(`${file}: learned.${name} must be a list of cache keys`)
    return value as string[]
  }
  return { pin: list(section.pin, 'pin'), exclude: list(section.exclude, 'exclude') }
}

export interface DroppedKey {
  key: string
  requestClass: string
  requests: number
  reason: string
}

export interface LearnedPlan {
  keys: KeyTotal[]
  dropped: DroppedKey[]
  /** Requests in the window and the share the warm set would cover with these keys. */
  total: number
  coveredShare: number
}

export interface LearnedWarmOptions {
  settings: LearnedSettings
  control: LearnedControl
  onDropped?: (dropped: DroppedKey) => void
  onPlanned?: (plan: LearnedPlan) => void
}

/** Candidates read per plan: enough for maxKeys plus the already-warm keys among the most requested. */
const CANDIDATE_FACTOR = 4

export class LearnedWarmSet {
  readonly #excluded: (key: string) => boolean
  #warmSet: ReadonlySet<string> = new Set()
  #learnedCount = 0

  constructor(
    private readonly registry: WarmTargetRegistry,
    private readonly reads: SchoolReads,
    private readonly repository: SchoolRepository,
    private readonly store: RequestStatsStore,
    private readonly options: LearnedWarmOptions,
  ) {
    this.#excluded = keyMatcher(options.control.exclude)
  }

  get settings(): LearnedSettings {
    return this.options.settings
  }

  /** Defines the `learned` group (in 'all': the boot warmup and the daily jobs) and its target. */
  register(): void {
    this.registry.defineGroup({ name: LEARNED_GROUP })
    this.registry.register({ name: 'learned-keys', group: LEARNED_GROUP, keys: () => this.#keys() })
  }

  /** What the next learned warmup would warm and drop, without warming or saving anything. */
  async plan(now = Date.now()): Promise<LearnedPlan> {
    if (!this.options.settings.enabled) return { keys: [], dropped: [], total: 0, coveredShare: 0 }
    const { coverage, maxKeys, minRequests, windowDays } = this.options.settings
    const hours = windowDays * 24
    // One statement at a time: this runs while the other targets list their keys, on a shared pool.
    const candidates = await this.store.topKeys(hours, maxKeys * CANDIDATE_FACTOR + 100, now)
    if (candidates.length === 0 && this.options.control.pin.length === 0) return { keys: [], dropped: [], total: 0, coveredShare: 0 }
    const classes = await this.store.classTotals(hours, now)
    // What every warmup of 'all' (the boot warmup) warms anyway; an opt-in group's keys (every
    // school's detail) are not warm after a restart, so a popular one is still learned.
    const alreadyWarm = await this.#otherTargetKeys(this.registry.resolveGroups())
    const total = classes.reduce((sum, row) => sum + row.requests, 0)
    const selection = selectLearned(candidates, total, { coverage, maxKeys, minRequests, alreadyWarm: (key) => alreadyWarm.has(key), pinned: this.options.control.pin, excluded: this.#excluded })
    const filterOptions = new Map<Level, FilterOptions>()
    for (const level of LEVELS) filterOptions.set(level, await this.repository.filterOptions(level))
    const needsSchools = selection.keys.some((row) => row.key.startsWith('detail:'))
    const schoolNos = needsSchools ? new Set(await this.repository.allSchoolNos()) : new Set<string>()
    const keys: KeyTotal[] = []
    const dropped: DroppedKey[] = []
    for (const row of selection.keys) {
      const requestClass = row.requestClass || requestClassOfKey(row.key)
      try {
        const read = parseLearnedKey(this.reads, row.key, filterOptions)
        if (read.kind === 'detail' && !schoolNos.has(read.schoolNo)) throw new NotFoundError('School', read.schoolNo)
        keys.push({ ...row, requestClass })
      } catch (error) {
        if (!(error instanceof AppError)) throw error
        dropped.push({ key: row.key, requestClass, requests: row.requests, reason: error.message })
      }
    }
    return { keys, dropped, total: selection.total, coveredShare: selection.coveredShare }
  }

  /** The keys every daily warmup keeps warm (other groups' keys and the saved learned set), for "in the warm set". */
  async warmSet(): Promise<Set<string>> {
    const keys = await this.#otherTargetKeys(this.registry.groups().map((group) => group.name))
    const learned = this.options.settings.enabled ? (await this.store.learned()).filter((row) => row.state === 'warm') : []
    for (const row of learned) keys.add(row.key)
    // Another instance's warmup may have changed the learned searches: read them where it put them.
    this.#shareSearches(learned)
    this.#warmSet = keys
    return keys
  }

  /** The learned searches are read and warmed in the shared tier (see SchoolReads.setSharedSearches). */
  #shareSearches(rows: readonly { key: string; requestClass: string }[]): void {
    this.reads.setSharedSearches(new Set(rows.filter((row) => (row.requestClass || requestClassOfKey(row.key)) === 'searches').map((row) => row.key)))
  }

  /** Keys of the last learned warmup this process ran, less those it dropped while warming. */
  get learnedKeyCount(): number {
    return this.#learnedCount
  }

  get lastWarmSet(): ReadonlySet<string> {
    return this.#warmSet
  }

  async #otherTargetKeys(groups: readonly string[]): Promise<Set<string>> {
    const keys = new Set<string>()
    for (const target of this.registry.targetsFor(groups.filter((name) => name !== LEARNED_GROUP))) for (const warmKey of await target.keys()) keys.add(warmKey.key)
    return keys
  }

  async #keys(): Promise<WarmKey[]> {
    // Off: nothing learned is warmed, and the saved set and statistics are left as they are.
    if (!this.options.settings.enabled) return []
    const plan = await this.plan()
    this.#learnedCount = plan.keys.length
    this.#shareSearches(plan.keys)
    for (const dropped of plan.dropped) await this.#drop(dropped)
    await this.store.saveLearned(plan.keys, plan.dropped)
    this.options.onPlanned?.(plan)
    return plan.keys.map((row): WarmKey => ({ key: row.key, warm: () => this.#warm(row) }))
  }

  async #warm(row: KeyTotal): Promise<void> {
    const filterOptions = new Map<Level, FilterOptions>()
    let read: LearnedRead
    try {
      read = parseLearnedKey(this.reads, row.key, filterOptions)
      switch (read.kind) {
        case 'list':
          return await this.reads.warmList(read.query)
        case 'detail':
          return await this.reads.warmDetail(read.schoolNo)
        case 'filters':
          return await this.reads.warmFilterOptions(read.level)
        case 'stats':
          return await this.reads.warmStats()
      }
    } catch (error) {
      // What a request would now get as a 4xx (a page past the end, a school gone) is dropped.
      if (!(error instanceof InvalidParameterError || error instanceof NotFoundError)) throw error
      const dropped = { key: row.key, requestClass: row.requestClass, requests: row.requests, reason: error.message }
      this.#learnedCount -= 1
      await this.#drop(dropped)
      await this.store.markDropped(row.key, error.message)
    }
  }

  async #drop(dropped: DroppedKey): Promise<void> {
    // Forgetting its counts keeps it from being learned again; a request that still succeeds counts it anew.
    await this.store.forgetKey(dropped.key)
    this.options.onDropped?.(dropped)
  }
}
