// Serving during a warmup (issue 11): steady load on a warm key against one app server process,
// with per-second req/s and latency, while the server runs (i) the full warmup that follows an
// import of changed data (a banding file whose one entry alternates between two bands, uploaded
// through the admin API exactly as `schools import banding` does: expire everything, warm all)
// and (ii) a warmup of unchanged data (POST /api/scheduler/warmup). Each warmup's window is the
// run's own startedAt..finishedAt from the run history; it is compared with the seconds just
// before the request that started it and just after it finished, as ratios.
import autocannon from 'autocannon'
import type { BenchEnvironment } from './environment.ts'
import { ADMIN_TOKEN } from './environment.ts'
import { runLoad } from './load.ts'
import { ServerProcess } from './server-process.ts'
import { median, percentileOfSorted } from './stats.ts'
import { BENCH_PATH } from './throughput.ts'

export type WarmupKind = 'after-import' | 'unchanged'

export const WARMUP_SERVING_TARGETS: Record<WarmupKind, { rps: number; p99: number }> = {
  'after-import': { rps: 0.8, p99: 1.5 },
  unchanged: { rps: 0.95, p99: 1.2 },
}

export interface WindowStats {
  seconds: number
  requests: number
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
}

export interface WarmupUnderLoad {
  kind: WarmupKind
  round: number
  runId: string
  keys: number
  /** The run's own duration (its record); the window below is the same span. */
  runMs: number
  /** What the request that started it took (the import itself included, for 'after-import'). */
  requestMs: number
  before: WindowStats
  during: WindowStats
  after: WindowStats
  rpsRatio: number
  p99Ratio: number
  /** Per whole second from `quietSeconds` before the request to `quietSeconds` after the run: req/s and p99 ms. */
  series: { second: number; phase: 'before' | 'during' | 'after'; requests: number; p99Ms: number }[]
}

export interface WarmupServingResult {
  path: string
  connections: number
  quietSeconds: number
  /** The server's default warmup as it started. */
  bootWarmupMs: number | undefined
  runs: WarmupUnderLoad[]
  /** Medians over the rounds, per kind. */
  summary: Record<WarmupKind, { rpsRatio: number; p99Ratio: number; runMs: number; keys: number }>
}

type Log = (line: string) => void

/** Completion times (epoch ms) and latencies of every 2xx response of a load that runs until stopped. */
class SteadyLoad {
  #at = new Float64Array(1 << 18)
  #latency = new Float64Array(1 << 18)
  #count = 0
  readonly #instance: autocannon.Instance
  readonly #done: Promise<void>
  failures = 0

  constructor(url: string, connections: number) {
    let finish: (error: unknown) => void = () => {}
    this.#done = new Promise((resolve, reject) => {
      finish = (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve())
    })
    // An hour at most: stop() ends it when the phases are done.
    this.#instance = autocannon({ url, connections, duration: 3600, pipelining: 1 }, (error, result) => {
      if (result) this.failures = result.non2xx + result.errors + result.timeouts
      finish(error)
    })
    this.#instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return
      if (this.#count === this.#at.length) {
        const at = new Float64Array(this.#at.length * 2)
        at.set(this.#at)
        this.#at = at
        const latency = new Float64Array(this.#latency.length * 2)
        latency.set(this.#latency)
        this.#latency = latency
      }
      this.#at[this.#count] = performance.timeOrigin + performance.now()
      this.#latency[this.#count] = responseTime
      this.#count += 1
    })
  }

  /** The first response completed at or after `ms` (completion times only grow). */
  #indexAt(ms: number): number {
    let low = 0
    let high = this.#count
    while (low < high) {
      const middle = (low + high) >>> 1
      if (this.#at[middle]! < ms) low = middle + 1
      else high = middle
    }
    return low
  }

  /** Responses completed in [fromMs, toMs). */
  window(fromMs: number, toMs: number): WindowStats {
    const sorted = this.#latency.slice(this.#indexAt(fromMs), this.#indexAt(toMs)).sort()
    const seconds = (toMs - fromMs) / 1000
    return {
      seconds,
      requests: sorted.length,
      requestsPerSecond: seconds > 0 ? sorted.length / seconds : Number.NaN,
      p50Ms: percentileOfSorted(sorted, 0.5),
      p99Ms: percentileOfSorted(sorted, 0.99),
      p999Ms: percentileOfSorted(sorted, 0.999),
    }
  }

  async stop(): Promise<void> {
    this.#instance.stop()
    await this.#done
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function admin(url: string, method: 'GET' | 'POST', body?: unknown): Promise<unknown> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${text.slice(0, 300)}`)
  return JSON.parse(text) as unknown
}

interface RunRecord {
  id: string
  trigger: string
  keys: number
  startedAt: string
  finishedAt: string | null
  durationMs: number | null
}

/** The newest finished run with `trigger` that started at or after `sinceMs`. */
async function lastRun(baseUrl: string, trigger: string, sinceMs: number): Promise<RunRecord> {
  const page = await admin(`${baseUrl}/api/scheduler/runs?pageSize=10`, 'GET') as { items: RunRecord[] }
  // Run records keep milliseconds: a second of slack covers the clock's rounding.
  const run = page.items.find((item) => item.trigger === trigger && item.finishedAt !== null && Date.parse(item.startedAt) >= sinceMs - 1000)
  if (!run) throw new Error(`no finished '${trigger}' run since ${new Date(sinceMs).toISOString()} in ${JSON.stringify(page.items.map((item) => [item.trigger, item.startedAt]))}`)
  return run
}

/** A banding file of one secondary school, whose band alternates: each upload is a change. */
function bandingUpload(schoolNo: string, round: number): { file: { fileName: string; contentBase64: string } } {
  const csv = `school_no,band\n${schoolNo},${round % 2 === 1 ? '1A' : '1B'}\n`
  return { file: { fileName: 'bench-banding.csv', contentBase64: Buffer.from(csv).toString('base64') } }
}

async function aSecondarySchool(baseUrl: string): Promise<string> {
  const page = await (await fetch(`${baseUrl}/api/schools/secondary?pageSize=1`)).json() as { items?: { schoolNo?: string }[] }
  const schoolNo = page.items?.[0]?.schoolNo
  if (!schoolNo) throw new Error(`no secondary school in ${JSON.stringify(page).slice(0, 300)}`)
  return schoolNo
}

function perSecond(load: SteadyLoad, fromMs: number, toMs: number, runStart: number, runEnd: number): WarmupUnderLoad['series'] {
  const series: WarmupUnderLoad['series'] = []
  for (let start = fromMs, second = 0; start + 1000 <= toMs; start += 1000, second += 1) {
    const stats = load.window(start, start + 1000)
    const phase = start + 1000 <= runStart ? 'before' : start >= runEnd ? 'after' : 'during'
    series.push({ second, phase, requests: stats.requests, p99Ms: stats.p99Ms })
  }
  return series
}

async function underLoad(load: SteadyLoad, baseUrl: string, kind: WarmupKind, round: number, quietMs: number, start: () => Promise<unknown>, trigger: string): Promise<WarmupUnderLoad> {
  await sleep(quietMs)
  const requested = Date.now()
  await start()
  const answered = Date.now()
  const run = await lastRun(baseUrl, trigger, requested)
  const runStart = Date.parse(run.startedAt)
  const runEnd = Date.parse(run.finishedAt!)
  await sleep(Math.max(0, runEnd + quietMs - Date.now()))
  const before = load.window(requested - quietMs, requested)
  const during = load.window(runStart, runEnd)
  const after = load.window(runEnd, runEnd + quietMs)
  return {
    kind,
    round,
    runId: run.id,
    keys: run.keys,
    runMs: runEnd - runStart,
    requestMs: answered - requested,
    before,
    during,
    after,
    rpsRatio: during.requestsPerSecond / before.requestsPerSecond,
    p99Ratio: during.p99Ms / before.p99Ms,
    series: perSecond(load, requested - quietMs, runEnd + quietMs, runStart, runEnd),
  }
}

export async function measureWarmupServing(env: BenchEnvironment, schema: string, prefix: string, rounds: number, log: Log): Promise<WarmupServingResult> {
  const { options } = env
  const quietMs = 4000
  const server = await ServerProcess.start({ mode: 'app', label: 'app serving during warmups', env: env.serverEnv(schema, prefix) })
  try {
    const schoolNo = await aSecondarySchool(server.url)
    if (options.warmupSeconds > 0) await runLoad({ url: `${server.url}${BENCH_PATH}`, connections: options.connections, durationSeconds: options.warmupSeconds })
    const load = new SteadyLoad(`${server.url}${BENCH_PATH}`, options.connections)
    const runs: WarmupUnderLoad[] = []
    try {
      // A lead-in, so the first 'before' window is steady load, not its first seconds.
      await sleep(quietMs)
      for (let round = 1; round <= rounds; round += 1) {
        const show = (result: WarmupUnderLoad): void => {
          runs.push(result)
          log(`  round ${round}/${rounds} ${result.kind.padEnd(12)} ${result.keys} keys in ${result.runMs} ms: req/s ${result.before.requestsPerSecond.toFixed(0)} -> ${result.during.requestsPerSecond.toFixed(0)} -> ${result.after.requestsPerSecond.toFixed(0)} (x${result.rpsRatio.toFixed(2)}), p99 ${result.before.p99Ms.toFixed(1)} -> ${result.during.p99Ms.toFixed(1)} -> ${result.after.p99Ms.toFixed(1)} ms (x${result.p99Ratio.toFixed(2)})`)
        }
        show(await underLoad(load, server.url, 'after-import', round, quietMs, () => admin(`${server.url}/api/admin/import/banding`, 'POST', bandingUpload(schoolNo, round)), 'import'))
        show(await underLoad(load, server.url, 'unchanged', round, quietMs, () => admin(`${server.url}/api/scheduler/warmup`, 'POST', { type: 'all' }), 'admin'))
      }
    } finally {
      await load.stop()
    }
    if (load.failures > 0) log(`  ${load.failures} failed requests under the steady load`)
    const summarise = (kind: WarmupKind): WarmupServingResult['summary'][WarmupKind] => {
      const of = runs.filter((run) => run.kind === kind)
      return { rpsRatio: median(of.map((run) => run.rpsRatio)), p99Ratio: median(of.map((run) => run.p99Ratio)), runMs: median(of.map((run) => run.runMs)), keys: median(of.map((run) => run.keys)) }
    }
    return {
      path: BENCH_PATH,
      connections: options.connections,
      quietSeconds: quietMs / 1000,
      bootWarmupMs: server.warmupMs,
      runs,
      summary: { 'after-import': summarise('after-import'), unchanged: summarise('unchanged') },
    }
  } finally {
    await server.stop()
  }
}
