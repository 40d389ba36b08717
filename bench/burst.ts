// Warm hits during a burst of distinct cold queries (issue 10): the warm page's p99 while
// `burstConnections` other connections ask for one never-seen valid list query each after
// another, against its p99 without the burst. Rounds alternate quiet and burst on the same
// server, and the report gives the median ratio (goal <= 2): load shedding bounds the database
// loads, admission keeps the cold queries out of Redis and L1, so warm hits neither wait behind
// them nor lose their L1 copies. The burst's own answers are counted by status (200 loaded,
// 503 E_BUSY shed).
import autocannon from 'autocannon'
import type { BenchEnvironment } from './environment.ts'
import { runLoad, type LoadResult } from './load.ts'
import { ServerProcess } from './server-process.ts'
import { median } from './stats.ts'
import { BENCH_PATH } from './throughput.ts'

export interface BurstRound {
  round: number
  quiet: LoadResult
  burst: LoadResult
  p99Ratio: number
  coldAnswers: Record<string, number>
}

export interface BurstResult {
  path: string
  connections: number
  burstConnections: number
  durationSeconds: number
  quietP99Ms: number
  burstP99Ms: number
  /** Median over rounds of burst p99 / quiet p99, each pair measured back to back. */
  p99Ratio: number
  coldAnswers: Record<string, number>
  rounds: BurstRound[]
}

/** A never-repeated valid list query per call: district subsets × page sizes (2^18 × 100 of them). */
function coldQueries(seed: number, districtCodes: readonly string[]): () => string {
  let counter = seed * 1_000_003
  return () => {
    counter += 1
    const subset = (Math.imul(counter, 2654435761) >>> 8) & 0x3ffff
    const districts = districtCodes.filter((_district, index) => (subset >> index) & 1)
    return `/api/schools/primary?pageSize=${1 + (counter % 100)}${districts.length > 0 ? `&district=${districts.join(',')}` : ''}`
  }
}

function runColdBurst(url: string, connections: number, durationSeconds: number, nextPath: () => string): Promise<Record<string, number>> {
  const answers: Record<string, number> = {}
  return new Promise((resolve, reject) => {
    const instance = autocannon({
      url,
      connections,
      duration: durationSeconds,
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: nextPath() }) }],
    }, (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(answers)))
    instance.on('response', (_client, statusCode) => {
      answers[statusCode] = (answers[statusCode] ?? 0) + 1
    })
  })
}

export async function measureBurst(env: BenchEnvironment, schema: string, prefix: string, log: (line: string) => void): Promise<BurstResult> {
  const { options } = env
  const connections = 10
  const burstConnections = 100
  const server = await ServerProcess.start({ mode: 'app', label: 'app under a cold burst', env: env.serverEnv(schema, prefix) })
  try {
    const warmUrl = `${server.url}${BENCH_PATH}`
    if (options.warmupSeconds > 0) await runLoad({ url: warmUrl, connections, durationSeconds: options.warmupSeconds })
    const filters = await (await fetch(`${server.url}/api/schools/filters?level=primary`)).json() as { filters: Record<string, { code: string }[]> }
    const nextPath = coldQueries(options.seed, (filters.filters.district ?? []).map((option) => option.code))
    const rounds: BurstRound[] = []
    for (let round = 1; round <= options.rounds; round += 1) {
      const quiet = await runLoad({ url: warmUrl, connections, durationSeconds: options.durationSeconds })
      const [burst, coldAnswers] = await Promise.all([
        runLoad({ url: warmUrl, connections, durationSeconds: options.durationSeconds }),
        runColdBurst(server.url, burstConnections, options.durationSeconds, nextPath),
      ])
      const p99Ratio = burst.p99Ms / quiet.p99Ms
      rounds.push({ round, quiet, burst, p99Ratio, coldAnswers })
      log(`  round ${round}/${options.rounds} warm p99 ${quiet.p99Ms.toFixed(2)} ms quiet, ${burst.p99Ms.toFixed(2)} ms during the burst (x${p99Ratio.toFixed(2)}); cold answers ${JSON.stringify(coldAnswers)}${burst.failures > 0 ? `  WARM FAILURES ${burst.failures}` : ''}`)
    }
    const coldAnswers: Record<string, number> = {}
    for (const round of rounds) for (const [status, count] of Object.entries(round.coldAnswers)) coldAnswers[status] = (coldAnswers[status] ?? 0) + count
    return {
      path: BENCH_PATH,
      connections,
      burstConnections,
      durationSeconds: options.durationSeconds,
      quietP99Ms: median(rounds.map((round) => round.quiet.p99Ms)),
      burstP99Ms: median(rounds.map((round) => round.burst.p99Ms)),
      p99Ratio: median(rounds.map((round) => round.p99Ratio)),
      coldAnswers,
      rounds,
    }
  } finally {
    await server.stop()
  }
}
