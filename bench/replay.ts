// The cache-effectiveness replay: after one default warmup (the daily job's groups), replay a seeded
// Zipf-distributed sequence of requests over every valid query of the data (query-space.ts)
// and count what the cache answered. It drives the real app in-process with app.inject,
// a bounded number in flight: what is measured is which requests hit and what reached the
// database, which does not depend on the socket layer, and in-process it takes seconds.
//
// Popularity order (rank 1 = most requested): both levels' filter options and the stats
// (every search page loads them), then list queries and school details alternately, lists
// ordered by page, then fewer filters first, then more results first (broad queries are the
// common ones), details in a seeded random order (no data says which schools are popular).
import type { BenchEnvironment } from './environment.ts'
import { ADMIN_TOKEN } from './environment.ts'
import type { Runtime } from '../src/runtime.ts'
import { buildServer } from '../src/server.ts'
import { DEFAULT_PAGE_SIZE, type ListQuery } from '../src/schools/model.ts'
import type { ListRequest } from '../src/schools/reads.ts'
import { enumerateRequests, type ReplayRequest } from './query-space.ts'
import { DAILY_WARMUP_GROUPS, openBenchRuntime, timeWarmup, type WarmupTiming } from './warmup-timing.ts'
import { seededRandom, shuffled, zipfSampler } from './zipf.ts'

export interface GroupFigures {
  group: string
  /** Distinct requests of this group in the query space. */
  keys: number
  requests: number
  misses: number
  distinctMissedKeys: number
}

export interface ReplayResult {
  requests: number
  concurrency: number
  zipfExponent: number
  seed: number
  queryKeys: number
  warmSetKeys: number
  /** Share of the Zipf probability mass on the keys in the warm set. */
  warmSetTrafficShare: number
  defaultWarmup: WarmupTiming
  hits: number
  stale: number
  misses: number
  hitRatio: number
  staleRatio: number
  queriesPer1000: number
  non200: { url: string; status: number }[]
  distinctKeysRequested: number
  missReasons: { firstRequestOutsideWarmSet: number; inWarmSet: number; repeatMissOfSameKey: number }
  byGroup: GroupFigures[]
  /**
   * The same sequence against larger warm sets: a request whose key such a set holds would have
   * hit. Keys are counted over the whole query space (what the warmup would have to load).
   */
  whatIf: { warmSet: string; keys: number; hitRatio: number; queriesPer1000: number }[]
  requestsPerSecondInProcess: number
}

type Log = (line: string) => void

function cacheKey(runtime: Runtime, request: ReplayRequest): string {
  const { reads } = runtime
  switch (request.kind) {
    case 'list': {
      const spec = request.list!
      const listRequest: ListRequest = { page: spec.page, pageSize: DEFAULT_PAGE_SIZE }
      for (const [field, code] of spec.filters) listRequest[field] = [code]
      const query: ListQuery = reads.parseListRequest(spec.level, listRequest)
      return reads.listKey(query)
    }
    case 'detail':
      return reads.detailKey(request.schoolNo!)
    case 'filters':
      return reads.filterOptionsKey(request.level!)
    case 'stats':
      return reads.statsKey
  }
}

function popularityOrder(lists: ReplayRequest[], details: ReplayRequest[], meta: ReplayRequest[], random: () => number): ReplayRequest[] {
  const orderedLists = [...lists].sort((a, b) => {
    const x = a.list!
    const y = b.list!
    return x.page - y.page || x.filters.length - y.filters.length || y.total - x.total || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0)
  })
  const orderedDetails = shuffled(details, random)
  const ranked = [...meta]
  for (let i = 0; i < Math.max(orderedLists.length, orderedDetails.length); i += 1) {
    if (i < orderedLists.length) ranked.push(orderedLists[i]!)
    if (i < orderedDetails.length) ranked.push(orderedDetails[i]!)
  }
  return ranked
}

async function warmSetKeys(runtime: Runtime): Promise<Set<string>> {
  const targets = runtime.registry.targetsFor(runtime.registry.resolveGroups(DAILY_WARMUP_GROUPS))
  const keys = new Set<string>()
  for (const target of targets) for (const { key } of await target.keys()) keys.add(key)
  return keys
}

export async function runReplay(env: BenchEnvironment, schema: string, redisPrefix: string, log: Log): Promise<ReplayResult> {
  const { options } = env
  // The production configuration: L1 and Redis, default TTLs; no scheduler, no boot warmup.
  const runtime = await openBenchRuntime(env, schema, redisPrefix)
  const app = await buildServer(runtime, ADMIN_TOKEN)
  await app.ready()
  try {
    const defaultWarmup = await timeWarmup(runtime, DAILY_WARMUP_GROUPS)
    log(`  default warmup (${DAILY_WARMUP_GROUPS.join('+')}): ${defaultWarmup.keys} keys in ${defaultWarmup.durationMs} ms`)
    const warmKeys = await warmSetKeys(runtime)

    const { lists, details, meta } = await enumerateRequests(runtime.db)
    const random = seededRandom(options.seed)
    const ranked = popularityOrder(lists, details, meta, random)
    const cacheKeys = ranked.map((request) => cacheKey(runtime, request))
    const draw = zipfSampler(ranked.length, options.zipfExponent, random)
    const sequence = Int32Array.from({ length: options.replayRequests }, draw)
    const weight = (rank: number): number => 1 / (rank + 1) ** options.zipfExponent
    const allWeight = cacheKeys.reduce((sum, _key, rank) => sum + weight(rank), 0)
    const warmShare = cacheKeys.reduce((sum, key, rank) => sum + (warmKeys.has(key) ? weight(rank) : 0), 0) / allWeight
    log(`  query space: ${lists.length} list queries, ${details.length} details, ${meta.length} filters/stats; ${warmKeys.size} keys in the warm set`)

    const states = new Uint8Array(options.replayRequests) // 0 hit, 1 stale, 2 miss
    const non200: { url: string; status: number }[] = []
    const queriesBefore = runtime.db.counter.total
    const started = performance.now()
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < sequence.length) {
        const index = next++
        const request = ranked[sequence[index]!]!
        const response = await app.inject({ method: 'GET', url: request.url })
        if (response.statusCode !== 200 && non200.length < 20) non200.push({ url: request.url, status: response.statusCode })
        const state = response.headers['x-cache']
        states[index] = state === 'hit' ? 0 : state === 'stale' ? 1 : 2
      }
    }
    await Promise.all(Array.from({ length: options.replayConcurrency }, worker))
    const elapsedMs = performance.now() - started
    const queries = runtime.db.counter.total - queriesBefore

    let hits = 0
    let stale = 0
    let misses = 0
    const missesPerKey = new Map<string, number>()
    const requested = new Set<string>()
    const groups = new Map<string, GroupFigures & { missedKeys: Set<string> }>()
    for (const request of ranked) {
      const figures = groups.get(request.group) ?? { group: request.group, keys: 0, requests: 0, misses: 0, distinctMissedKeys: 0, missedKeys: new Set<string>() }
      figures.keys += 1
      groups.set(request.group, figures)
    }
    for (let index = 0; index < sequence.length; index += 1) {
      const rank = sequence[index]!
      const key = cacheKeys[rank]!
      const figures = groups.get(ranked[rank]!.group)!
      requested.add(key)
      figures.requests += 1
      if (states[index] === 0) hits += 1
      else if (states[index] === 1) stale += 1
      else {
        misses += 1
        figures.misses += 1
        figures.missedKeys.add(key)
        missesPerKey.set(key, (missesPerKey.get(key) ?? 0) + 1)
      }
    }
    let inWarmSet = 0
    let repeated = 0
    for (const [key, count] of missesPerKey) {
      if (warmKeys.has(key)) inWarmSet += count
      else repeated += count - 1
    }
    const total = sequence.length
    const extraWarmSets: [string, (group: string) => boolean][] = [
      ['current + every list page 1', (group) => group.endsWith('page 1')],
      ['current + every list page 1-5 (WARM_LIST_PAGES=5)', (group) => group.startsWith('list')],
      ['the whole query space', () => true],
    ]
    const whatIf = extraWarmSets.map(([warmSet, covers]) => {
      const coveredGroups = [...groups.values()].filter((figures) => covers(figures.group))
      const avoided = coveredGroups.reduce((sum, figures) => sum + figures.misses, 0)
      const keyCount = new Set([...warmKeys, ...ranked.flatMap((request, rank) => (covers(request.group) ? [cacheKeys[rank]!] : []))]).size
      return { warmSet, keys: keyCount, hitRatio: (hits + stale + avoided) / total, queriesPer1000: ((misses - avoided) / total) * 1000 }
    })
    whatIf.unshift({ warmSet: `current (${DAILY_WARMUP_GROUPS.join(' + ')})`, keys: warmKeys.size, hitRatio: (hits + stale) / total, queriesPer1000: (misses / total) * 1000 })

    log(`  replayed ${total} requests in ${(elapsedMs / 1000).toFixed(1)} s`)

    return {
      requests: total,
      concurrency: options.replayConcurrency,
      zipfExponent: options.zipfExponent,
      seed: options.seed,
      queryKeys: ranked.length,
      warmSetKeys: warmKeys.size,
      warmSetTrafficShare: warmShare,
      defaultWarmup,
      hits,
      stale,
      misses,
      hitRatio: (hits + stale) / total,
      staleRatio: stale / total,
      queriesPer1000: (queries / total) * 1000,
      non200,
      distinctKeysRequested: requested.size,
      missReasons: { firstRequestOutsideWarmSet: missesPerKey.size - [...missesPerKey.keys()].filter((key) => warmKeys.has(key)).length, inWarmSet, repeatMissOfSameKey: repeated },
      byGroup: [...groups.values()].map(({ missedKeys, ...figures }) => ({ ...figures, distinctMissedKeys: missedKeys.size })),
      whatIf,
      requestsPerSecondInProcess: total / (elapsedMs / 1000),
    }
  } finally {
    await app.close()
    await runtime.close()
  }
}
