// The throughput comparison: one server process per mode, the same request and payload for
// all, each mode loaded in turn within a round (A B C D E, A B C D E, ...), so slow drift on a
// shared machine hits every mode alike; every figure is also taken as a ratio to the ceiling
// of the same round, and the report gives medians over the rounds.
import os from 'node:os'
import path from 'node:path'
import type { BenchEnvironment } from './environment.ts'
import { runLoad, type LoadResult } from './load.ts'
import type { BenchOptions } from './options.ts'
import type { Payload } from './protocol.ts'
import { ServerProcess } from './server-process.ts'
import { median } from './stats.ts'

export type ModeKey = 'ceiling' | 'stubbed' | 'l1' | 'redis' | 'naive' | 'nocache'

export const MODE_TITLES: Record<ModeKey, string> = {
  ceiling: '1. ceiling (bare Fastify, same bytes)',
  stubbed: '(diagnostic) the app, its cache read stubbed',
  l1: '2. app, warm, L1 hit',
  redis: '3. app, warm, Redis only (CACHE_L1=false)',
  naive: '4. naive cache-aside (ioredis + JSON.parse/stringify)',
  nocache: '5. no cache (SchoolRepository.list per request)',
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
  title: string
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
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

export interface ThroughputResult {
  path: string
  payloadBytes: number
  /** Per mode: whether its response body was byte-identical to the cached page. */
  payloadIdentical: Record<string, boolean>
  /** Default warmup of each app server as it started (ms). */
  appWarmupMs: Record<string, number>
  modes: ModeSummary[]
}

type Log = (line: string) => void

async function fetchPayload(url: string): Promise<Payload & { state: string | null }> {
  const response = await fetch(url)
  const body = await response.text()
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${body.slice(0, 300)}`)
  return { body, etag: response.headers.get('etag') ?? '', state: response.headers.get('x-cache') }
}

async function startServers(env: BenchEnvironment, schema: string, prefix: string, modes: readonly ModeKey[]): Promise<Map<ModeKey, ServerProcess>> {
  const servers = new Map<ModeKey, ServerProcess>()
  try {
    // The L1 app starts first: its warmup fills Redis, and the ceiling sends its page.
    servers.set('l1', await ServerProcess.start({ mode: 'app', label: MODE_TITLES.l1, env: env.serverEnv(schema, prefix) }))
    const payload = await fetchPayload(`${servers.get('l1')!.url}${BENCH_PATH}`)
    const starting: Promise<void>[] = []
    const add = (mode: ModeKey, start: () => Promise<ServerProcess>): void => {
      if (modes.includes(mode)) starting.push(start().then((server) => void servers.set(mode, server)))
    }
    add('ceiling', () => ServerProcess.start({ mode: 'ceiling', label: MODE_TITLES.ceiling, env: {}, payload }))
    add('stubbed', () => ServerProcess.start({ mode: 'stubbed', label: MODE_TITLES.stubbed, env: env.serverEnv(schema, prefix), payload }))
    add('redis', () => ServerProcess.start({ mode: 'app', label: MODE_TITLES.redis, env: env.serverEnv(schema, prefix, { CACHE_L1: 'false' }) }))
    add('naive', () => ServerProcess.start({ mode: 'naive', label: MODE_TITLES.naive, env: env.serverEnv(schema, prefix) }))
    add('nocache', () => ServerProcess.start({ mode: 'nocache', label: MODE_TITLES.nocache, env: env.serverEnv(schema, prefix) }))
    const settled = await Promise.allSettled(starting)
    const failed = settled.find((result) => result.status === 'rejected')
    if (failed) throw failed.reason
    return servers
  } catch (error) {
    await Promise.all([...servers.values()].map((server) => server.stop()))
    throw error
  }
}

async function measure(server: ServerProcess, options: BenchOptions, durationSeconds: number): Promise<LoadCost> {
  const before = await server.counters()
  const ownCpu = process.cpuUsage()
  const started = performance.now()
  const load = await runLoad({ url: `${server.url}${BENCH_PATH}`, connections: options.connections, durationSeconds })
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

/** `profileDir`: write a CPU profile of each server's measured rounds to `<profileDir>/<mode>.cpuprofile` (--profile). */
export async function measureThroughput(env: BenchEnvironment, schema: string, prefix: string, modes: readonly ModeKey[], log: Log, profileDir?: string): Promise<ThroughputResult> {
  const { options } = env
  const order = (Object.keys(MODE_TITLES) as ModeKey[]).filter((mode) => mode === 'ceiling' || modes.includes(mode))
  const servers = await startServers(env, schema, prefix, order)
  try {
    const reference = await fetchPayload(`${servers.get('l1')!.url}${BENCH_PATH}`)
    const payloadIdentical: Record<string, boolean> = {}
    for (const mode of order) {
      // The first request of the naive server fills its Redis key, so its load is all hits.
      const { body } = await fetchPayload(`${servers.get(mode)!.url}${BENCH_PATH}`)
      payloadIdentical[mode] = body === reference.body
    }
    const appWarmupMs: Record<string, number> = {}
    for (const mode of ['l1', 'redis'] as const) {
      const warmupMs = servers.get(mode)?.warmupMs
      if (warmupMs !== undefined) appWarmupMs[mode] = warmupMs
    }

    if (options.warmupSeconds > 0) {
      log(`  JIT warm-up: ${options.warmupSeconds} s per mode, not recorded`)
      for (const mode of order) await runLoad({ url: `${servers.get(mode)!.url}${BENCH_PATH}`, connections: options.connections, durationSeconds: options.warmupSeconds })
    }

    const measurements = new Map<ModeKey, ModeMeasurement[]>(order.map((mode) => [mode, []]))
    if (profileDir) for (const mode of order) servers.get(mode)!.startProfile()
    for (let round = 1; round <= options.rounds; round += 1) {
      const results = new Map<ModeKey, LoadCost>()
      const loadAverage = os.loadavg()[0]!
      for (const mode of order) {
        const result = await measure(servers.get(mode)!, options, options.durationSeconds)
        results.set(mode, result)
        log(`  round ${round}/${options.rounds} ${mode.padEnd(16)} ${result.requestsPerSecond.toFixed(0).padStart(7)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms  max ${result.maxMs.toFixed(1)} ms  cpu server ${result.serverCpuPercent.toFixed(0)}% (${result.serverCpuMicrosPerRequest.toFixed(0)} µs/req) client ${result.loadGeneratorCpuPercent.toFixed(0)}%${result.failures > 0 ? `  FAILURES ${result.failures}` : ''}`)
      }
      const ceiling = results.get('ceiling')!
      for (const mode of order) {
        const result = results.get(mode)!
        measurements.get(mode)!.push({
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

    if (profileDir) for (const mode of order) await servers.get(mode)!.stopProfile(path.join(profileDir, `${mode}.cpuprofile`))

    const summaries = order.map((mode): ModeSummary => {
      const rounds = measurements.get(mode)!
      const of = (pick: (measurement: ModeMeasurement) => number): number => median(rounds.map(pick))
      const requests = rounds.reduce((sum, measurement) => sum + measurement.requests, 0)
      const queries = rounds.reduce((sum, measurement) => sum + measurement.queries, 0)
      return {
        mode,
        title: MODE_TITLES[mode],
        requestsPerSecond: of((m) => m.requestsPerSecond),
        p50Ms: of((m) => m.p50Ms),
        p99Ms: of((m) => m.p99Ms),
        maxMs: of((m) => m.maxMs),
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
    return { path: BENCH_PATH, payloadBytes: Buffer.byteLength(reference.body), payloadIdentical, appWarmupMs, modes: summaries }
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()))
  }
}
