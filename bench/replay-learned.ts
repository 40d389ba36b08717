// `npm run bench -- --replay learned`: does the learned warm set make a restarted deployment warm
// for what its users ask? A seeded Zipf stream whose popularity order is a random shuffle,
// unrelated to the derived warm set: list pages 1-5 at page sizes 10 and 50 (the derived set
// holds page 1 at size 20 only), later pages at size 20, school details, and repeated searches.
// Phase 1 serves it (after a boot warmup) and learns; then Redis is flushed and the runtime
// reopened (an empty L1: a restarted process), the boot warmup runs, and phase 2 replays fresh
// draws of the same distribution. Run once with learning on and once off, side by side; then
// the warm-hit cost of counting (REQUEST_STATS on vs off), in process, alternating rounds.
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import type { Runtime } from '../src/runtime.ts'
import { buildServer } from '../src/server.ts'
import { DEFAULT_PAGE_SIZE } from '../src/schools/model.ts'
import { ADMIN_TOKEN, type BenchEnvironment } from './environment.ts'
import { enumerateListSpecs, listUrl } from './query-space.ts'
import { runLoad } from './load.ts'
import { ServerProcess } from './server-process.ts'
import { median } from './stats.ts'
import { BENCH_PATH } from './throughput.ts'
import { openBenchRuntime } from './warmup-timing.ts'
import { seededRandom, shuffled, zipfSampler } from './zipf.ts'
import { missCauses, renderMissCauses, warmKnowledge, type KeyTally, type MissCauseRow } from './replay-learned-misses.ts'

type RequestClass = 'lists' | 'details' | 'searches'

interface LearnedItem {
  url: string
  requestClass: RequestClass
  /** The canonical cache key the route reads for `url` (seen through the cache's request events). */
  key: string
}

export interface ClassFigures {
  requestClass: RequestClass
  requests: number
  misses: number
  stale: number
}

export interface PhaseFigures {
  requests: number
  hitRatio: number
  /** Hit ratio of the first 1,000 requests after the boot warmup. */
  firstThousandHitRatio: number
  queriesPer1000: number
  byClass: ClassFigures[]
  non200: number
  /** Non-200 answers by status and error code (e.g. '503 E_BUSY': a load that waited too long on a loaded machine). */
  non200Codes?: Record<string, number>
  /** Wall time of the phase (the TTLs run in real time: lists 300 s, searches 60 s). */
  durationMs: number
}

export interface LearnedRun {
  learning: boolean
  phase1: PhaseFigures
  bootWarmup: { keys: number; failed: number; durationMs: number; learnedKeys: number; l1Keys?: number; l1Bytes?: number }
  phase2: PhaseFigures
  /** Seconds from the start of the boot warmup to the end of phase 2 (the age of the oldest warmed value). */
  bootToEndSeconds: number
  /** Queries of one statistics flush (the writes of phase 2's counts); REQUEST_STATS_FLUSH_SECONDS apart (60 s by default). */
  flushQueries?: number
  missCauses: MissCauseRow[]
}

export interface CountingCost {
  path: string
  rounds: number
  durationSeconds: number
  onRequestsPerSecond: number
  offRequestsPerSecond: number
  ratio: number
  onCpuMicrosPerRequest: number
  offCpuMicrosPerRequest: number
}

export interface LearnedReplayResult {
  queryKeys: number
  requestsPerPhase: number
  zipfExponent: number
  seed: number
  runs: LearnedRun[]
  /** Undefined when its servers could not be measured (the error is in countingCostError). */
  countingCost: CountingCost | undefined
  countingCostError?: string
}

type Log = (line: string) => void

const PAGE_SIZES = [10, 50]
const LIST_KEYS = 1200
const DETAIL_KEYS = 300
const SEARCH_TERMS = 40

type Draft = Omit<LearnedItem, 'key'>

async function learnedQuerySpace(app: FastifyInstance, runtime: Runtime, random: () => number): Promise<LearnedItem[]> {
  const lists: Draft[] = []
  for (const spec of await enumerateListSpecs(runtime.db)) {
    // enumerateListSpecs gives pages 1-5 at the default size; keep its later pages only.
    if (spec.page > 1) lists.push({ url: listUrl(spec), requestClass: 'lists' })
    if (spec.page !== 1) continue
    for (const pageSize of PAGE_SIZES) {
      for (let page = 1; page <= Math.min(5, Math.ceil(spec.total / pageSize)); page += 1) {
        const url = listUrl({ ...spec, page })
        lists.push({ url: `${url}${url.includes('?') ? '&' : '?'}pageSize=${pageSize}`, requestClass: 'lists' })
      }
    }
  }
  const schools = await runtime.db.query<{ school_no: string; name_en: string }>('SELECT school_no, name_en FROM schools ORDER BY school_no')
  const details = schools.map((row): Draft => ({ url: `/api/schools/${row.school_no}`, requestClass: 'details' }))
  const words = [...new Set(schools.flatMap((row) => (row.name_en ?? '').toLowerCase().split(/[^a-z]+/)).filter((word) => word.length >= 4))].sort()
  const searches = shuffled(words, random).slice(0, SEARCH_TERMS).map((word, index): Draft => ({
    url: `/api/schools/${index % 2 === 0 ? 'primary' : 'secondary'}?q=${encodeURIComponent(word)}`,
    requestClass: 'searches',
  }))
  // Popularity: a seeded shuffle, unrelated to what the derived warm set holds.
  const drafts = shuffled([...shuffled(lists, random).slice(0, LIST_KEYS), ...shuffled(details, random).slice(0, DETAIL_KEYS), ...searches], random)
  // Each URL's canonical key as the route builds it: one request at a time, so the cache's
  // request event of each belongs to it.
  const items: LearnedItem[] = []
  let key: string | undefined
  const unsubscribe = runtime.cache.onEvent((_policy, _state, eventKey) => {
    key = eventKey
  })
  try {
    for (const draft of drafts) {
      key = undefined
      const response = await app.inject({ method: 'GET', url: draft.url })
      if (response.statusCode !== 200 || key === undefined) throw new Error(`learned replay: ${draft.url} answered ${response.statusCode}`)
      items.push({ ...draft, key })
    }
  } finally {
    unsubscribe()
  }
  return items
}

interface PhaseRun {
  figures: PhaseFigures
  tallies: Map<string, KeyTally>
}

async function replayPhase(app: FastifyInstance, runtime: Runtime, items: LearnedItem[], draws: Int32Array, concurrency: number): Promise<PhaseRun> {
  // The cache state of each request from the cache's own request event (searches send no
  // x-cache header): the event names the key, and a request takes the oldest pending index of
  // its key (two concurrent requests of one key may swap indices, which changes nothing here).
  const states = new Uint8Array(draws.length).fill(3)
  const pending = new Map<string, number[]>()
  const tallies = new Map<string, KeyTally>()
  const unsubscribe = runtime.cache.onEvent((_policy, state, key) => {
    const index = pending.get(key)?.shift()
    if (index === undefined) return
    states[index] = state === 'hit' ? 0 : state === 'stale' ? 1 : 2
    let tally = tallies.get(key)
    if (!tally) tallies.set(key, (tally = { requests: 0, misses: 0, stale: 0 }))
    tally.requests += 1
    if (state === 'miss') tally.misses += 1
    if (state === 'stale') tally.stale += 1
  })
  let non200 = 0
  const non200Codes: Record<string, number> = {}
  const queriesBefore = runtime.db.counter.total
  const started = performance.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < draws.length) {
      const index = next++
      const item = items[draws[index]!]!
      let queue = pending.get(item.key)
      if (!queue) pending.set(item.key, (queue = []))
      queue.push(index)
      const response = await app.inject({ method: 'GET', url: item.url })
      if (response.statusCode !== 200) {
        non200 += 1
        const code = `${response.statusCode} ${(response.json<{ error?: string }>().error ?? '')}`.trim()
        non200Codes[code] = (non200Codes[code] ?? 0) + 1
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, worker))
  } finally {
    unsubscribe()
  }
  const durationMs = performance.now() - started
  const queries = runtime.db.counter.total - queriesBefore
  const byClass = new Map<RequestClass, ClassFigures>((['lists', 'details', 'searches'] as const).map((requestClass) => [requestClass, { requestClass, requests: 0, misses: 0, stale: 0 }]))
  let missed = 0
  let firstMissed = 0
  for (let index = 0; index < draws.length; index += 1) {
    const figures = byClass.get(items[draws[index]!]!.requestClass)!
    figures.requests += 1
    if (states[index] === 1) figures.stale += 1
    // 3: no cache event (an error answer): counted as a miss.
    if (states[index]! >= 2) {
      figures.misses += 1
      missed += 1
      if (index < 1000) firstMissed += 1
    }
  }
  const figures = {
    requests: draws.length,
    hitRatio: 1 - missed / draws.length,
    firstThousandHitRatio: 1 - firstMissed / Math.min(1000, draws.length),
    queriesPer1000: (queries / draws.length) * 1000,
    byClass: [...byClass.values()],
    non200,
    non200Codes,
    durationMs,
  }
  return { figures, tallies }
}

async function flushRedis(env: BenchEnvironment, prefix: string): Promise<void> {
  const redis = new Redis(env.options.redisUrl, { maxRetriesPerRequest: 1 })
  try {
    let cursor = '0'
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.unlink(...keys)
      cursor = nextCursor
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
}

async function withApp<T>(env: BenchEnvironment, schema: string, prefix: string, extraEnv: Record<string, string>, use: (app: FastifyInstance, runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await openBenchRuntime(env, schema, prefix, extraEnv)
  const app = await buildServer(runtime, ADMIN_TOKEN)
  await app.ready()
  try {
    return await use(app, runtime)
  } finally {
    await app.close()
    await runtime.close()
  }
}

async function learnedRun(env: BenchEnvironment, schema: string, learning: boolean, items: LearnedItem[], phase1: Int32Array, phase2: Int32Array, log: Log): Promise<LearnedRun> {
  const prefix = env.redisPrefix(`learned_${learning ? 'on' : 'off'}`)
  // The statistics are flushed by the bench (end of phase 1, after phase 2), not by the minute
  // timer: a flush is a few queries per minute whatever the traffic, so it is measured and
  // reported apart from the queries per 1,000 requests.
  const extraEnv = { WARM_LEARNED: String(learning), REQUEST_STATS: 'true', REQUEST_STATS_FLUSH_SECONDS: '3600' }
  const { concurrency } = { concurrency: env.options.replayConcurrency }
  // Each run learns from its own phase 1 only.
  await withApp(env, schema, prefix, extraEnv, async (_app, runtime) => runtime.learning.store.deleteAll())
  const first = await withApp(env, schema, prefix, extraEnv, async (app, runtime) => {
    await runtime.runner.run({ groups: ['all'], trigger: 'boot' })
    const { figures } = await replayPhase(app, runtime, items, phase1, concurrency)
    await runtime.learning.flush()
    return figures
  })
  log(`  learning ${learning ? 'on' : 'off'}: phase 1 hit ratio ${(first.hitRatio * 100).toFixed(2)}%; Redis flushed, process state reopened`)
  await flushRedis(env, prefix)
  const phase1Counts = new Map<string, number>()
  for (const draw of phase1) phase1Counts.set(items[draw]!.key, (phase1Counts.get(items[draw]!.key) ?? 0) + 1)
  return withApp(env, schema, prefix, extraEnv, async (app, runtime) => {
    const bootStarted = performance.now()
    const boot = await runtime.runner.run({ groups: ['all'], trigger: 'boot' })
    await runtime.learning.refreshWarmSet()
    const knowledge = await warmKnowledge(runtime)
    const learnedKeys = [...knowledge.learned.values()].filter((row) => row.state === 'warm').length
    const { l1Keys, l1Bytes } = await runtime.cache.stats()
    const { figures: second, tallies } = await replayPhase(app, runtime, items, phase2, concurrency)
    const bootToEndSeconds = (performance.now() - bootStarted) / 1000
    const beforeFlush = runtime.db.counter.total
    await runtime.learning.flush()
    const flushQueries = runtime.db.counter.total - beforeFlush
    const causes = missCauses(tallies, items.map((item) => ({ key: item.key, search: item.requestClass === 'searches' })), phase1Counts, knowledge)
    log(`  learning ${learning ? 'on' : 'off'}: boot warmup ${boot.keys} keys (${learnedKeys} learned) in ${boot.durationMs} ms; phase 2 hit ratio ${(second.hitRatio * 100).toFixed(2)}%, ${second.queriesPer1000.toFixed(1)} queries / 1,000, ${(second.durationMs / 1000).toFixed(1)} s`)
    for (const row of causes) log(`    ${row.cause}: ${row.keys} keys, ${row.firstMisses} + ${row.repeatMisses} misses, ${row.stale} stale; e.g. ${row.examples.join(', ')}`)
    return { learning, phase1: first, bootWarmup: { keys: boot.keys, failed: boot.failed, durationMs: boot.durationMs, learnedKeys, l1Keys, l1Bytes }, phase2: second, bootToEndSeconds, flushQueries, missCauses: causes }
  })
}

/**
 * Warm-hit req/s with counting on and off: two server processes (`npm start`'s startServer, L1
 * + Redis) on one warm cache, loaded over HTTP by autocannon in alternating rounds, so drift on
 * a shared machine hits both alike; also server CPU per response, which moves less with load.
 */
async function countingCost(env: BenchEnvironment, schema: string, log: Log): Promise<CountingCost> {
  const prefix = env.redisPrefix('counting')
  const { options } = env
  const rounds = Math.max(3, options.rounds)
  // Started one after the other; each runs the default warmup before it answers.
  const servers = {
    on: await ServerProcess.start({ mode: 'app', label: 'REQUEST_STATS=true', env: env.serverEnv(schema, prefix, { REQUEST_STATS: 'true', WARM_LEARNED: 'false' }) }),
    off: await ServerProcess.start({ mode: 'app', label: 'REQUEST_STATS=false', env: env.serverEnv(schema, prefix, { REQUEST_STATS: 'false', WARM_LEARNED: 'false' }) }),
  }
  const rps = { on: [] as number[], off: [] as number[] }
  const cpu = { on: [] as number[], off: [] as number[] }
  try {
    for (let round = -1; round < rounds; round += 1) {
      for (const mode of ['on', 'off'] as const) {
        const server = servers[mode]
        const before = await server.counters()
        const load = await runLoad({ url: `${server.url}${BENCH_PATH}`, connections: options.connections, durationSeconds: round < 0 ? options.warmupSeconds || 1 : options.durationSeconds })
        const after = await server.counters()
        // Round -1 only warms the JIT.
        if (round < 0) continue
        rps[mode].push(load.requestsPerSecond)
        cpu[mode].push((after.cpuMicros - before.cpuMicros) / Math.max(1, load.requests))
      }
    }
  } finally {
    await servers.on.stop()
    await servers.off.stop()
  }
  const result = {
    path: BENCH_PATH,
    rounds,
    durationSeconds: options.durationSeconds,
    onRequestsPerSecond: median(rps.on),
    offRequestsPerSecond: median(rps.off),
    ratio: median(rps.on) / median(rps.off),
    onCpuMicrosPerRequest: median(cpu.on),
    offCpuMicrosPerRequest: median(cpu.off),
  }
  log(`  counting cost: ${result.onRequestsPerSecond.toFixed(0)} req/s on, ${result.offRequestsPerSecond.toFixed(0)} off (${result.ratio.toFixed(3)}x); CPU ${result.onCpuMicrosPerRequest.toFixed(1)} vs ${result.offCpuMicrosPerRequest.toFixed(1)} µs per response`)
  return result
}

export async function runLearnedReplay(env: BenchEnvironment, schema: string, log: Log): Promise<LearnedReplayResult> {
  const { options } = env
  const random = seededRandom(options.seed)
  const items = await withApp(env, schema, env.redisPrefix('learned_space'), { REQUEST_STATS: 'false' }, async (app, runtime) => learnedQuerySpace(app, runtime, random))
  const draw = zipfSampler(items.length, options.zipfExponent, random)
  const phase1 = Int32Array.from({ length: options.replayRequests }, draw)
  const phase2 = Int32Array.from({ length: options.replayRequests }, draw)
  log(`  query space: ${items.length} keys (lists at page sizes 10/20/50 and later pages, details, searches); ${options.replayRequests} requests per phase`)
  const runs = [await learnedRun(env, schema, false, items, phase1, phase2, log), await learnedRun(env, schema, true, items, phase1, phase2, log)]
  const base = { queryKeys: items.length, requestsPerPhase: options.replayRequests, zipfExponent: options.zipfExponent, seed: options.seed, runs }
  if (!options.phases.includes('hits')) return { ...base, countingCost: undefined, countingCostError: 'skipped (--skip-throughput, or --only without hits)' }
  try {
    return { ...base, countingCost: await countingCost(env, schema, log) }
  } catch (error) {
    log(`  counting cost not measured: ${error instanceof Error ? error.message : String(error)}`)
    return { ...base, countingCost: undefined, countingCostError: error instanceof Error ? error.message : String(error) }
  }
}

const pct = (value: number): string => `${(value * 100).toFixed(2)}%`
const non200 = (run: LearnedRun): string => {
  const codes = Object.entries(run.phase2.non200Codes ?? {}).map(([code, count]) => `${count} × ${code}`)
  return codes.length === 0 ? String(run.phase2.non200) : `${run.phase2.non200} (${codes.join(', ')})`
}
const memory = (run: LearnedRun): string => {
  const { l1Keys, l1Bytes } = run.bootWarmup
  return l1Keys === undefined || l1Bytes === undefined ? '-' : `${l1Keys}, ${(l1Bytes / 1e6).toFixed(1)} (${(l1Bytes / Math.max(1, l1Keys) / 1e3).toFixed(1)})`
}
const seconds = (run: LearnedRun): string => (run.phase2.durationMs === undefined ? '-' : `${(run.phase2.durationMs / 1000).toFixed(1)} (${run.bootToEndSeconds.toFixed(1)})`)

export function renderLearnedMarkdown(result: LearnedReplayResult, header: string): string {
  const [off, on] = [result.runs.find((run) => !run.learning)!, result.runs.find((run) => run.learning)!]
  const lines = [
    `# Learned warm set replay`,
    '',
    header,
    '',
    `${result.queryKeys} keys, Zipf exponent ${result.zipfExponent}, seed ${result.seed}, ${result.requestsPerPhase} requests per phase (in process, app.inject). Default page size is ${DEFAULT_PAGE_SIZE}.`,
    '',
    '| phase 2 (after Redis flush, reopen, boot warmup) | learning off | learning on |',
    '|---|---|---|',
    `| boot warmup keys (learned) | ${off.bootWarmup.keys} (${off.bootWarmup.learnedKeys}) | ${on.bootWarmup.keys} (${on.bootWarmup.learnedKeys}) |`,
    `| boot warmup ms | ${off.bootWarmup.durationMs} | ${on.bootWarmup.durationMs} |`,
    `| L1 after the boot warmup: keys, MB (kB per key) | ${memory(off)} | ${memory(on)} |`,
    `| hit ratio (hit + stale) | ${pct(off.phase2.hitRatio)} | ${pct(on.phase2.hitRatio)} |`,
    `| hit ratio, first 1,000 requests | ${pct(off.phase2.firstThousandHitRatio)} | ${pct(on.phase2.firstThousandHitRatio)} |`,
    `| database queries per 1,000 requests | ${off.phase2.queriesPer1000.toFixed(2)} | ${on.phase2.queriesPer1000.toFixed(2)} |`,
    ...on.phase2.byClass.map((row, index) => `| misses (stale), ${row.requestClass} (of ${row.requests}) | ${off.phase2.byClass[index]!.misses} (${off.phase2.byClass[index]!.stale}) | ${row.misses} (${row.stale}) |`),
    `| non-200 answers | ${non200(off)} | ${non200(on)} |`,
    `| queries of one statistics flush (once a minute, whatever the traffic) | ${off.flushQueries ?? '-'} | ${on.flushQueries ?? '-'} |`,
    `| phase 2 s (boot warmup start to phase-2 end) | ${seconds(off)} | ${seconds(on)} |`,
    `| (phase 1 hit ratio) | ${pct(off.phase1.hitRatio)} | ${pct(on.phase1.hitRatio)} |`,
    '',
    ...(on.missCauses && off.missCauses ? [...renderMissCauses(off.missCauses, on.missCauses), ''] : []),
    `Targets: phase-2 hit ratio >= 99.5%: ${on.phase2.hitRatio >= 0.995 ? 'PASS' : 'FAIL'}; <= 5 database queries per 1,000: ${on.phase2.queriesPer1000 <= 5 ? 'PASS' : 'FAIL'}.`,
    '',
    countingLine(result),
    '',
  ]
  return lines.join('\n')
}

function countingLine(result: LearnedReplayResult): string {
  const cost = result.countingCost
  if (!cost) return `Warm-hit cost of counting: not measured (${result.countingCostError ?? 'unknown error'}).`
  return `Warm-hit cost of counting (\`${cost.path}\`, two server processes over HTTP, ${cost.rounds} alternating rounds of ${cost.durationSeconds} s, medians): ` +
    `${cost.onRequestsPerSecond.toFixed(0)} req/s with REQUEST_STATS=true, ${cost.offRequestsPerSecond.toFixed(0)} with false: ${cost.ratio.toFixed(3)}x (target >= 0.97x: ${cost.ratio >= 0.97 ? 'PASS' : 'FAIL'}); ` +
    `server CPU ${cost.onCpuMicrosPerRequest.toFixed(1)} vs ${cost.offCpuMicrosPerRequest.toFixed(1)} µs per response.`
}
