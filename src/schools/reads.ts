// What the school API caches and how: canonical keys, TTL classes, and loaders. Routes and
// warm targets both go through here, so a warmed key is exactly the key a request reads.
import type { CacheTtls } from '../config.ts'
import { ClockBound, type CachePolicy, type ResponseCache } from '../cache/response-cache.ts'
import { canonicalKey } from '../cache/keys.ts'
import { LRUCache } from 'lru-cache'
import { InvalidParameterError, NotFoundError, type AppError } from '../errors.ts'
import type { CachedBody } from '../http/cached-reply.ts'
import { DEFAULT_PAGE_SIZE, FILTER_FIELDS, type FilterOptions, type Level, type ListQuery } from './model.ts'
import type { SchoolDetail, SchoolRepository } from './repository.ts'
import { searchText } from './codes.ts'

export interface SchoolPolicies {
  list: CachePolicy
  search: CachePolicy
  /** A learned search (popular across users, see setSharedSearches): the shared tier, like a list. */
  sharedSearch: CachePolicy
  detail: CachePolicy
  stats: CachePolicy
  filters: CachePolicy
}

export function schoolPolicies(ttls: CacheTtls): SchoolPolicies {
  return {
    list: { name: 'list', ttlSeconds: ttls.listSeconds, graceSeconds: ttls.graceSeconds },
    // Free text is unbounded: keep it in a small local LRU with a short life, out of Redis.
    search: { name: 'search', ttlSeconds: ttls.searchSeconds, graceSeconds: ttls.searchSeconds, localOnly: true },
    sharedSearch: { name: 'search', ttlSeconds: ttls.listSeconds, graceSeconds: ttls.graceSeconds },
    detail: { name: 'detail', ttlSeconds: ttls.detailSeconds, graceSeconds: ttls.graceSeconds },
    stats: { name: 'stats', ttlSeconds: ttls.statsSeconds, graceSeconds: ttls.graceSeconds },
    filters: { name: 'filters', ttlSeconds: ttls.statsSeconds, graceSeconds: ttls.graceSeconds },
  }
}

/** A list query with its cache key, both computed once (see prepareList). */
export interface PreparedList {
  readonly query: ListQuery
  readonly key: string
}

/** A list request as it arrives, after JSON-schema validation. */
export interface ListRequest {
  page: number
  pageSize: number
  q?: string
  [field: string]: unknown
}

/** At most this many remembered error answers per process (a few hundred bytes each). */
const KNOWN_ERRORS_MAX = 10_000

export class SchoolReads {
  /**
   * Answers that are client errors found by a load (an unknown school: 404; a page past the end:
   * 400), remembered in process memory for `errorTtlSeconds` so repeating one costs no database
   * query. Never in Redis, bounded by count; a warmup that loads the key forgets it at once.
   */
  readonly #knownErrors: LRUCache<string, AppError> | undefined

  constructor(
    private readonly repository: SchoolRepository,
    private readonly cache: ResponseCache,
    readonly policies: SchoolPolicies,
    options: { errorTtlSeconds?: number } = {},
  ) {
    const ttlSeconds = options.errorTtlSeconds ?? 10
    this.#knownErrors = ttlSeconds > 0 ? new LRUCache({ max: KNOWN_ERRORS_MAX, ttl: ttlSeconds * 1000, ttlAutopurge: false }) : undefined
  }

  /**
   * Keys of the learned searches (src/schools/learned-targets.ts): seen above the statistics'
   * threshold, at most WARM_LEARNED_MAX_KEYS. Warmed and read in the shared tier like a list, so
   * a warmed one lasts as long as a list does instead of the local tier's minute; every other
   * search stays local.
   */
  #sharedSearches: ReadonlySet<string> = new Set()

  setSharedSearches(keys: ReadonlySet<string>): void {
    this.#sharedSearches = keys
  }

  #listPolicy(query: ListQuery, key: string): CachePolicy {
    if (!query.q) return this.policies.list
    return this.#sharedSearches.has(key) ? this.policies.sharedSearch : this.policies.search
  }

  /** Parsed filter options per level, reused while the cached document's ETag is unchanged. */
  readonly #knownCodes = new Map<Level, { etag: string; codes: Map<string, Set<string>> }>()

  /**
   * Turns a schema-valid request into the canonical query (codes split, deduplicated, sorted).
   * Whether the codes exist is checked only on a cache miss (see `list`): a key is only ever
   * stored for a valid query, so a hit needs no check and the key space stays bounded.
   */
  parseListRequest(level: Level, request: ListRequest): ListQuery {
    // Ajv's type coercion turns '1e309' into Infinity and then skips minimum/maximum (it checks
    // those on finite numbers only), so a schema-valid page or pageSize can still be infinite.
    for (const name of ['page', 'pageSize'] as const) {
      if (!Number.isSafeInteger(request[name])) throw new InvalidParameterError(name, 'must be a finite integer')
    }
    const filters: ListQuery['filters'] = {}
    for (const field of FILTER_FIELDS[level]) {
      const raw = request[field]
      if (raw === undefined) continue
      filters[field] = [...new Set((raw as string[]).flatMap((value) => value.split(',')))].sort()
    }
    const q = request.q === undefined ? undefined : searchText(request.q)
    if (request.q !== undefined && !q) throw new InvalidParameterError('q', 'must contain more than spaces')
    return { level, page: request.page, pageSize: request.pageSize, filters, ...(q ? { q } : {}) }
  }

  /** Rejects codes the level's filter options do not list (filter options are cached too). */
  async assertKnownCodes(query: ListQuery): Promise<void> {
    const cached = await this.filterOptions(query.level)
    let known = this.#knownCodes.get(query.level)
    if (known?.etag !== cached.entry.etag) {
      known = { etag: cached.entry.etag, codes: codeSets(JSON.parse(cached.entry.body) as FilterOptions) }
      this.#knownCodes.set(query.level, known)
    }
    assertCodesIn(query, known.codes)
  }

  /** The same check against options read just now, for warmups that run right after an import. */
  assertKnownCodesIn(query: ListQuery, options: FilterOptions): void {
    assertCodesIn(query, codeSets(options))
  }

  listKey(query: ListQuery): string {
    return canonicalKey(`list:${query.level}`, { ...query.filters, page: query.page, pageSize: query.pageSize, q: query.q }, { page: 1, pageSize: DEFAULT_PAGE_SIZE })
  }

  /** parseListRequest and listKey together, for callers that keep the result (routes.ts memoises it per URL). */
  prepareList(level: Level, request: ListRequest): PreparedList {
    const query = this.parseListRequest(level, request)
    return { query, key: this.listKey(query) }
  }

  /** list(), answered synchronously when the page is fresh in this process's memory; undefined: call list(). */
  peekList(prepared: PreparedList): CachedBody | undefined {
    const { query, key } = prepared
    return this.#peek(key, this.#listPolicy(query, key), query.q !== undefined)
  }

  /** `key` must be listKey(query); pass it when it is already known, to skip recomputing it. */
  list(query: ListQuery, key: string = this.listKey(query)): Promise<CachedBody> {
    return this.read(key, this.#listPolicy(query, key), async () => {
      await this.assertKnownCodes(query)
      return this.loadList(query)
    }, query.q !== undefined)
  }

  warmList(query: ListQuery): Promise<void> {
    // A search (learned from traffic) is warmed under the policy it is read with.
    const key = this.listKey(query)
    return this.cache.warm(key, this.#listPolicy(query, key), () => this.loadList(query)).then(() => this.#forgetError(key))
  }

  private async loadList(query: ListQuery): Promise<unknown> {
    const page = await this.repository.list(query)
    // Past the last page is an error, never a cached empty page: the key space stays bounded.
    if (query.page > Math.max(1, page.totalPages)) {
      throw new InvalidParameterError('page', `is past the last page (${Math.max(1, page.totalPages)}) of ${page.total} results`)
    }
    return page
  }

  detailKey(schoolNo: string): string {
    return `detail:${schoolNo}`
  }

  detail(schoolNo: string): Promise<CachedBody> {
    return this.read(this.detailKey(schoolNo), this.policies.detail, () => this.loadDetail(schoolNo))
  }

  /** `load` lets a warmup hand in the detail from a batch it loaded (see warm-targets.ts). */
  warmDetail(schoolNo: string, load?: () => Promise<SchoolDetail | null | undefined>): Promise<void> {
    const key = this.detailKey(schoolNo)
    return this.cache.warm(key, this.policies.detail, () => this.loadDetail(schoolNo, load)).then(() => this.#forgetError(key))
  }

  private async loadDetail(schoolNo: string, load: () => Promise<SchoolDetail | null | undefined> = () => this.repository.detail(schoolNo)): Promise<unknown> {
    const detail = await load()
    if (!detail) throw new NotFoundError('School', schoolNo)
    // Each application window says whether it is open now: true until the next one opens or closes.
    return new ClockBound(detail, nextBoundary(detail.applicationWindows as { opensAt: string; closesAt: string }[] | undefined))
  }

  filterOptionsKey(level: Level): string {
    return `filters:${level}`
  }

  filterOptions(level: Level): Promise<CachedBody> {
    return this.read(this.filterOptionsKey(level), this.policies.filters, () => this.repository.filterOptions(level))
  }

  warmFilterOptions(level: Level): Promise<void> {
    return this.cache.warm(this.filterOptionsKey(level), this.policies.filters, () => this.repository.filterOptions(level)).then(() => undefined)
  }

  readonly statsKey = 'stats'

  stats(): Promise<CachedBody> {
    return this.read(this.statsKey, this.policies.stats, () => this.loadStats())
  }

  warmStats(): Promise<void> {
    return this.cache.warm(this.statsKey, this.policies.stats, () => this.loadStats()).then(() => undefined)
  }

  /** The stats count the windows open now (asOf says when): true until the next window opens or closes. */
  private async loadStats(): Promise<ClockBound> {
    const [stats, boundary] = await Promise.all([this.repository.stats(), this.repository.nextWindowBoundary()])
    return new ClockBound(stats, boundary)
  }

  /**
   * Tells the cache the data generation committed now, so values loaded from here on record it
   * and the warmup can renew values of this generation (docs/generations.md). One query; the
   * warmup runner calls it at the start of every run.
   */
  async learnGeneration(): Promise<void> {
    try {
      this.cache.setGeneration(await this.repository.dataGeneration())
    } catch (error) {
      // An import may have happened meanwhile: renew nothing until the generation is known again.
      this.cache.setGeneration(undefined)
      throw error
    }
  }

  #forgetError(key: string): void {
    this.#knownErrors?.delete(key)
  }

  /** read()'s synchronous hit: the fresh copy in memory, or undefined (also for a remembered error: read() throws it). */
  #peek(key: string, policy: CachePolicy, hidden = policy.localOnly === true): CachedBody | undefined {
    if (this.#knownError(key)) return undefined
    const entry = this.cache.peek(key, policy)
    return entry === undefined ? undefined : cachedBody(entry, 'hit', hidden)
  }

  /** The remembered error answer for `key`, if any (see #knownErrors). */
  #knownError(key: string): AppError | undefined {
    return this.#knownErrors !== undefined && this.#knownErrors.size > 0 ? this.#knownErrors.get(key) : undefined
  }

  /** `hidden`: the cache state is not told (a search, wherever it is cached). */
  private async read(key: string, policy: CachePolicy, loader: () => Promise<unknown>, hidden = policy.localOnly === true): Promise<CachedBody> {
    const known = this.#knownError(key)
    if (known) throw known
    let result: Awaited<ReturnType<ResponseCache['getOrLoad']>>
    try {
      result = await this.cache.getOrLoad(key, policy, loader)
    } catch (error) {
      // Only answers no client can change by waiting on another instance: an unknown school, a page past
      // the end. An unknown code is not kept: an import elsewhere may add it, and the next read must see it.
      if (error instanceof NotFoundError || (error instanceof InvalidParameterError && error.parameter === 'page')) this.#knownErrors?.set(key, error)
      throw error
    }
    return cachedBody(result.entry, result.state, hidden)
  }
}

/** A search's cache state would tell any client whether someone else searched that term: `hidden` keeps it private. */
function cachedBody(entry: CachedBody['entry'], state: CachedBody['state'], hidden: boolean): CachedBody {
  return hidden ? { entry, state, private: true } : { entry, state }
}

/** The first opening or closing of `windows` after `now` (epoch ms), if any. */
function nextBoundary(windows: readonly { opensAt: string; closesAt: string }[] | undefined, now: number = Date.now()): number | undefined {
  let next: number | undefined
  for (const window of windows ?? []) {
    for (const moment of [Date.parse(window.opensAt), Date.parse(window.closesAt)]) {
      if (moment > now && (next === undefined || moment < next)) next = moment
    }
  }
  return next
}

function codeSets(options: FilterOptions): Map<string, Set<string>> {
  return new Map(Object.entries(options.filters).map(([field, list]) => [field, new Set(list.map((option) => option.code))]))
}

function assertCodesIn(query: ListQuery, known: Map<string, Set<string>>): void {
  for (const [field, codes] of Object.entries(query.filters)) {
    const valid = known.get(field) ?? new Set<string>()
    const unknown = codes.find((code) => !valid.has(code))
    if (unknown !== undefined) {
      throw new InvalidParameterError(field, `unknown code '${unknown}' for ${query.level} schools (valid: ${[...valid].slice(0, 40).join(', ') || 'none loaded'})`)
    }
  }
}
