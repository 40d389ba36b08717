// The throughput comparison: one server process per mode, the same request and payload for
// all, each mode loaded in turn within a round (A B C D E, A B C D E, ...), so slow drift on a
// shared machine hits every mode alike; every figure is also taken as a ratio to the ceiling
// of the same round, and the report gives medians over the rounds.
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import type { BenchEnvironment } from './environment.ts'
import { runLoad, type LoadOptions, type LoadResult } from './load.ts'
import type { BenchOptions } from './options.ts'
import type { MemoryFigures, Payload } from './protocol.ts'
import { ServerProcess } from './server-process.ts'
import { median } from './stats.ts'
import { BENCH_LEVEL } from './baseline-servers.ts'

/** One server process of the comparison. */
export type ServerKey = 'ceiling' | 'stubbed' | 'l1' | 'l1-nostats' | 'redis' | 'naive' | 'nocache'
/** What the load asks for in Accept-Encoding (identity: no header). */
export type Encoding = 'identity' | 'br' | 'gzip'
/** A server loaded with one encoding: 'l1' (identity), 'l1-br', 'ceiling-gzip', ... */
export type ModeKey = string

export const SERVER_TITLES: Record<ServerKey, string> = {
  ceiling: 'ceiling (bare Fastify, same bytes)',
  stubbed: '(diagnostic) the app, its cache read stubbed',
  l1: 'app, warm, L1 hit',
  'l1-nostats': 'app, warm, L1 hit, request counting off (REQUEST_STATS=false)',
  redis: 'app, warm, Redis only (CACHE_L1=false)',
  naive: 'naive cache-aside (ioredis + JSON.parse/stringify)',
  nocache: 'no cache (SchoolRepository.list per request)',
}

/** The servers whose stored page comes in every encoding; the others send identity only. */
const COMPRESSING: readonly ServerKey[] = ['ceiling', 'l1', 'redis']
const ENCODINGS: readonly Encoding[] = ['identity', 'br', 'gzip']

export interface ModeDefinition {
  key: ModeKey
  server: ServerKey
  encoding: Encoding
  title: string
  /** Set for the many-keys modes: the list pages each connection asks for in turn (BENCH_PATH otherwise). */
  paths?: readonly string[]
  /** The mode its ratios are taken against, in the same round: the ceiling of its encoding unless set. */
  reference?: ModeKey
}

/**
 * The many-keys modes: L1 and Redis-only hits, br, over page 1 of every filter value (about 80
 * warm keys), each connection asking for them in turn, so the requests of one turn of the event
 * loop seldom share a key. The Redis-only one is compared with L1 on the same keys (the bodies
 * differ from the ceiling's). The single-key modes show a hot key, where concurrent Redis reads
 * of one key are read once (redis-fast-path.ts); these show a spread of keys.
 */
function manyKeysModes(paths: readonly string[]): ModeDefinition[] {
  const title = `${paths.length} list pages in turn, br`
  return [
    { key: 'l1-br-keys', server: 'l1', encoding: 'br', title: `${SERVER_TITLES.l1}, ${title}`, paths },
    { key: 'redis-br-keys', server: 'redis', encoding: 'br', title: `${SERVER_TITLES.redis}, ${title}`, paths, reference: 'l1-br-keys' },
  ]
}

/** Page 1 of every filter value of the bench's level that has schools: keys the default warmup keeps warm. */
async function filterPagePaths(baseUrl: string): Promise<string[]> {
  const response = await rawGet(`${baseUrl}/api/schools/filters?level=${BENCH_LEVEL}`)
  if (response.status !== 200) throw new Error(`GET /api/schools/filters answered ${response.status}`)
  const { filters } = JSON.parse(response.body.toString('utf8')) as { filters: Record<string, Array<{ code: string; count: number }>> }
  return Object.entries(filters).flatMap(([field, values]) =>
    values.filter((value) => value.count > 0).map((value) => `/api/schools/${BENCH_LEVEL}?${field}=${encodeURIComponent(value.code)}`))
}

/** The modes of `servers` × `encodings`, grouped by encoding so each is loaded right after its own ceiling. */
export function modeDefinitions(servers: readonly ServerKey[], encodings: readonly Encoding[]): ModeDefinition[] {
  const order = (Object.keys(SERVER_TITLES) as ServerKey[]).filter((server) => server === 'ceiling' || servers.includes(server))
  return ENCODINGS.filter((encoding) => encoding === 'identity' || encodings.includes(encoding)).flatMap((encoding) =>
    order.filter((server) => encoding === 'identity' || COMPRESSING.includes(server)).map((server) => ({
      key: encoding === 'identity' ? server : `${server}-${encoding}`,
      server,
      encoding,
      title: `${SERVER_TITLES[server]}${encoding === 'identity' ? '' : `, ${encoding}`}`,
    })))
}

function acceptEncoding(encoding: Encoding): Record<string, string> | undefined {
  return encoding === 'identity' ? undefined : { 'accept-encoding': encoding }
}

/** A warm key of config/warm-targets.json, so mode 2 measures a hit. */
export const BENCH_PATH = '/api/schools/primary?district=kowloon-city'

/** One load of one mode, with what it cost: database statements and CPU on either side. */
export interface LoadCost extends LoadResult {
  queries: number
  /** Server process CPU time over the load, in % of one core. */
  serverCpuPercent: number
  /**
   * Server CPU time per response. Unlike req/s it hardly moves when other processes compete
   * for the cores, so it shows the per-request work of a mode even on a busy machine.
   */
  serverCpuMicrosPerRequest: number
  /** This process's (autocannon's) CPU time over the load, in % of one core. */
  loadGeneratorCpuPercent: number
}

export interface ModeMeasurement extends LoadCost {
  round: number
  /** 1-minute load average when the round started: how busy the machine was. */
  loadAverage: number
  queriesPer1000: number
  rpsRatio: number
  p50Ratio: number
  p99Ratio: number
  maxRatio: number
  cpuPerRequestRatio: number
}

export interface ModeSummary {
  mode: ModeKey
  server: ServerKey
  encoding: Encoding
  title: string
  /** The many-keys modes: how many keys, and the mode their ratios are against (if not the ceiling). */
  keys?: number
  reference?: ModeKey
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  /** Response bytes on the wire (headers and body), per response. */
  wireBytes: number
  rpsRatio: number
  p50Ratio: number
  p99Ratio: number
  maxRatio: number
  queriesPer1000: number
  serverCpuPercent: number
  serverCpuMicrosPerRequest: number
  /** serverCpuMicrosPerRequest over the ceiling's, same round. */
  cpuPerRequestRatio: number
  loadGeneratorCpuPercent: number
  failures: number
  rounds: ModeMeasurement[]
}

/** A server process's memory: after its start (the app: after its boot warmup) and after all its loads. */
export interface ServerMemory {
  server: ServerKey
  afterBoot: MemoryFigures
  afterLoad: MemoryFigures
}

export interface ThroughputResult {
  path: string
  payloadBytes: number
  /** Stored body bytes per encoding. */
  encodedBytes: Record<Encoding, number>
  memory: ServerMemory[]
  /** Per mode: whether its response body was byte-identical to the cached page. */
  payloadIdentical: Record<string, boolean>
  /** Default warmup of each app server as it started (ms). */
  appWarmupMs: Record<string, number>
  modes: ModeSummary[]
}

type Log = (line: string) => void

/** GET without decoding (fetch would decompress): the bytes as sent, and the headers. */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), headers: response.headers }))
      response.on('error', reject)
    }).on('error', reject)
  })
}

/** The page in each encoding, as the server stored it. */
async function fetchPayload(url: string): Promise<Payload & { state: string | null }> {
  const get = async (encoding: Encoding): Promise<Buffer> => {
    const response = await rawGet(url, acceptEncoding(encoding))
    if (response.status !== 200) throw new Error(`GET ${url} (${encoding}) answered ${response.status}: ${response.body.toString('utf8', 0, 300)}`)
    if ((response.headers['content-encoding'] ?? 'identity') !== encoding) throw new Error(`GET ${url} asked for ${encoding}, got ${String(response.headers['content-encoding'])}`)
    return response.body
  }
  const identity = await rawGet(url)
  if (identity.status !== 200) throw new Error(`GET ${url} answered ${identity.status}: ${identity.body.toString('utf8', 0, 300)}`)
  return {
    body: identity.body.toString('utf8'),
    etag: String(identity.headers.etag ?? ''),
    gzipBase64: (await get('gzip')).toString('base64'),
    brBase64: (await get('br')).toString('base64'),
    state: (identity.headers['x-cache'] as string | undefined) ?? null,
  }
}

/** Whether `url` sends the same bytes as `reference` in `encoding` (identity: the same JSON text). */
async function sameBytes(url: string, encoding: Encoding, reference: Payload): Promise<boolean> {
  const response = await rawGet(url, acceptEncoding(encoding))
  const expected = encoding === 'identity' ? Buffer.from(reference.body) : Buffer.from(encoding === 'br' ? reference.brBase64 : reference.gzipBase64, 'base64')
  return response.body.equals(expected)
}

async function startServers(env: BenchEnvironment, schema: string, prefix: string, wanted: readonly ServerKey[]): Promise<Map<ServerKey, ServerProcess>> {
  const servers = new Map<ServerKey, ServerProcess>()
  try {
    // The L1 app starts first: its warmup fills Redis, and the ceiling sends its page.
    servers.set('l1', await ServerProcess.start({ mode: 'app', label: SERVER_TITLES.l1, env: env.serverEnv(schema, prefix) }))
    const payload = await fetchPayload(`${servers.get('l1')!.url}${BENCH_PATH}`)
    const starting: Promise<void>[] = []
    const add = (server: ServerKey, start: () => Promise<ServerProcess>): void => {
      if (wanted.includes(server)) starting.push(start().then((started) => void servers.set(server, started)))
    }
    add('ceiling', () => ServerProcess.start({ mode: 'ceiling', label: SERVER_TITLES.ceiling, env: {}, payload }))
    add('stubbed', () => ServerProcess.start({ mode: 'stubbed', label: SERVER_TITLES.stubbed, env: env.serverEnv(schema, prefix), payload }))
    add('l1-nostats', () => ServerProcess.start({ mode: 'app', label: SERVER_TITLES['l1-nostats'], env: env.serverEnv(schema, prefix, { REQUEST_STATS: 'false' }) }))
    add('redis', () => ServerProcess.start({ mode: 'app', label: SERVER_TITLES.redis, env: env.serverEnv(schema, prefix, { CACHE_L1: 'false' }) }))
    add('naive', () => ServerProcess.start({ mode: 'naive', label: SERVER_TITLES.naive, env: env.serverEnv(schema, prefix) }))
    add('nocache', () => ServerProcess.start({ mode: 'nocache', label: SERVER_TITLES.nocache, env: env.serverEnv(schema, prefix) }))
    const settled = await Promise.allSettled(starting)
    const failed = settled.find((result) => result.status === 'rejected')
    if (failed) throw failed.reason
    return servers
  } catch (error) {
    await Promise.all([...servers.values()].map((server) => server.stop()))
    throw error
  }
}

/** The load of one mode: its encoding's Accept-Encoding, on BENCH_PATH or on its paths in turn. */
function modeLoad(server: ServerProcess, mode: ModeDefinition, options: BenchOptions, durationSeconds: number): LoadOptions {
  const headers = acceptEncoding(mode.encoding)
  return { url: `${server.url}${BENCH_PATH}`, connections: options.connections, durationSeconds, ...(headers ? { headers } : {}), ...(mode.paths ? { paths: mode.paths } : {}) }
}

async function measure(server: ServerProcess, mode: ModeDefinition, options: BenchOptions, durationSeconds: number): Promise<LoadCost> {
  const before = await server.counters()
  const ownCpu = process.cpuUsage()
  const started = performance.now()
  const load = await runLoad(modeLoad(server, mode, options, durationSeconds))
  const elapsedMicros = (performance.now() - started) * 1000
  const own = process.cpuUsage(ownCpu)
  const after = await server.counters()
  return {
    ...load,
    queries: after.queries - before.queries,
    serverCpuPercent: ((after.cpuMicros - before.cpuMicros) / elapsedMicros) * 100,
    serverCpuMicrosPerRequest: load.requests > 0 ? (after.cpuMicros - before.cpuMicros) / load.requests : Number.NaN,
    loadGeneratorCpuPercent: ((own.user + own.system) / elapsedMicros) * 100,
  }
}

/**
 * `servers` × `encodings` (the compressed ones only for the servers that store them).
 * `profileDir`: write a CPU profile of each server's measured rounds to `<profileDir>/<server>.cpuprofile` (--profile).
 */
export async function measureThroughput(env: BenchEnvironment, schema: string, prefix: string, wanted: readonly ServerKey[], encodings: readonly Encoding[], log: Log, profileDir?: string): Promise<ThroughputResult> {
  const { options } = env
  const modes = modeDefinitions(wanted, encodings)
  const serverKeys = [...new Set(modes.map((mode) => mode.server))]
  const servers = await startServers(env, schema, prefix, serverKeys)
  const serverOf = (mode: ModeDefinition): ServerProcess => servers.get(mode.server)!
  try {
    const reference = await fetchPayload(`${servers.get('l1')!.url}${BENCH_PATH}`)
    const payloadIdentical: Record<string, boolean> = {}
    // The first request of the naive server fills its Redis key, so its load is all hits.
    for (const mode of modes) payloadIdentical[mode.key] = await sameBytes(`${serverOf(mode).url}${BENCH_PATH}`, mode.encoding, reference)
    if (servers.has('redis') && encodings.includes('br')) modes.push(...manyKeysModes(await filterPagePaths(servers.get('l1')!.url)))
    const appWarmupMs: Record<string, number> = {}
    for (const server of ['l1', 'l1-nostats', 'redis'] as const) {
      const warmupMs = servers.get(server)?.warmupMs
      if (warmupMs !== undefined) appWarmupMs[server] = warmupMs
    }
    const afterBoot = new Map<ServerKey, MemoryFigures>()
    for (const [key, server] of servers) afterBoot.set(key, (await server.counters()).memory)

    if (options.warmupSeconds > 0) {
      log(`  JIT warm-up: ${options.warmupSeconds} s per mode, not recorded`)
      for (const mode of modes) await runLoad(modeLoad(serverOf(mode), mode, options, options.warmupSeconds))
    }

    const measurements = new Map<ModeKey, ModeMeasurement[]>(modes.map((mode) => [mode.key, []]))
    if (profileDir) for (const server of servers.values()) server.startProfile()
    for (let round = 1; round <= options.rounds; round += 1) {
      const results = new Map<ModeKey, LoadCost>()
      const loadAverage = os.loadavg()[0]!
      for (const mode of modes) {
        const result = await measure(serverOf(mode), mode, options, options.durationSeconds)
        results.set(mode.key, result)
        log(`  round ${round}/${options.rounds} ${mode.key.padEnd(16)} ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms  p99.9 ${result.p999Ms.toFixed(2)} ms  ${result.bytesPerResponse.toFixed(0)} B/resp  cpu server ${result.serverCpuPercent.toFixed(0)}% (${result.serverCpuMicrosPerRequest.toFixed(0)} µs/req) client ${result.loadGeneratorCpuPercent.toFixed(0)}%${result.failures > 0 ? `  FAILURES ${result.failures}` : ''}`)
      }
      for (const mode of modes) {
        const result = results.get(mode.key)!
        // Each mode against its reference (the ceiling sending the same encoding unless set), in the same round.
        const ceiling = results.get(mode.reference ?? (mode.encoding === 'identity' ? 'ceiling' : `ceiling-${mode.encoding}`))!
        measurements.get(mode.key)!.push({
          ...result,
          round,
          loadAverage,
          queriesPer1000: result.requests > 0 ? (result.queries / result.requests) * 1000 : 0,
          rpsRatio: result.requestsPerSecond / ceiling.requestsPerSecond,
          p50Ratio: result.p50Ms / ceiling.p50Ms,
          p99Ratio: result.p99Ms / ceiling.p99Ms,
          maxRatio: result.maxMs / ceiling.maxMs,
          cpuPerRequestRatio: result.serverCpuMicrosPerRequest / ceiling.serverCpuMicrosPerRequest,
        })
      }
    }

    if (profileDir) for (const [key, server] of servers) await server.stopProfile(path.join(profileDir, `${key}.cpuprofile`))
    const memory: ServerMemory[] = []
    for (const [key, server] of servers) memory.push({ server: key, afterBoot: afterBoot.get(key)!, afterLoad: (await server.counters()).memory })

    const summaries = modes.map((mode): ModeSummary => {
      const rounds = measurements.get(mode.key)!
      const of = (pick: (measurement: ModeMeasurement) => number): number => median(rounds.map(pick))
      const requests = rounds.reduce((sum, measurement) => sum + measurement.requests, 0)
      const queries = rounds.reduce((sum, measurement) => sum + measurement.queries, 0)
      return {
        mode: mode.key,
        server: mode.server,
        encoding: mode.encoding,
        title: mode.title,
        ...(mode.paths ? { keys: mode.paths.length } : {}),
        ...(mode.reference ? { reference: mode.reference } : {}),
        requestsPerSecond: of((m) => m.requestsPerSecond),
        p50Ms: of((m) => m.p50Ms),
        p99Ms: of((m) => m.p99Ms),
        p999Ms: of((m) => m.p999Ms),
        maxMs: of((m) => m.maxMs),
        wireBytes: of((m) => m.bytesPerResponse),
        rpsRatio: of((m) => m.rpsRatio),
        p50Ratio: of((m) => m.p50Ratio),
        p99Ratio: of((m) => m.p99Ratio),
        maxRatio: of((m) => m.maxRatio),
        queriesPer1000: requests > 0 ? (queries / requests) * 1000 : 0,
        serverCpuPercent: of((m) => m.serverCpuPercent),
        serverCpuMicrosPerRequest: of((m) => m.serverCpuMicrosPerRequest),
        cpuPerRequestRatio: of((m) => m.cpuPerRequestRatio),
        loadGeneratorCpuPercent: of((m) => m.loadGeneratorCpuPercent),
        failures: rounds.reduce((sum, measurement) => sum + measurement.failures, 0),
        rounds,
      }
    })
    const encodedBytes: Record<Encoding, number> = {
      identity: Buffer.byteLength(reference.body),
      gzip: Buffer.from(reference.gzipBase64, 'base64').byteLength,
      br: Buffer.from(reference.brBase64, 'base64').byteLength,
    }
    return { path: BENCH_PATH, payloadBytes: encodedBytes.identity, encodedBytes, memory, payloadIdentical, appWarmupMs, modes: summaries }
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()))
  }
}

/** Per-round ratio of two modes' req/s (e.g. counting on over off), median over the rounds. */
export function pairedRpsRatio(result: ThroughputResult | undefined, numerator: ModeKey, denominator: ModeKey): number | undefined {
  const top = result?.modes.find((mode) => mode.mode === numerator)
  const bottom = result?.modes.find((mode) => mode.mode === denominator)
  if (!top || !bottom) return undefined
  return median(top.rounds.map((round, index) => round.requestsPerSecond / (bottom.rounds[index]?.requestsPerSecond ?? Number.NaN)))
}
