// What a cache miss on a list costs: distinct list queries that no warmup or earlier request
// touched, sent one at a time to a warm app server (so each is a miss: query, serialise, store
// in Redis), timed end to end over HTTP; and the same queries' SQL alone, timed in this process
// through SchoolRepository.list. For the slowest query and the unfiltered one, EXPLAIN ANALYZE
// shows where the time goes.
import type { Database, Queryable } from '../src/db/database.ts'
import { SchoolRepository } from '../src/schools/repository.ts'
import { DEFAULT_PAGE_SIZE, type ListQuery } from '../src/schools/model.ts'
import type { BenchEnvironment } from './environment.ts'
import { enumerateListSpecs, listUrl, type ListSpec } from './query-space.ts'
import { ServerProcess } from './server-process.ts'
import { median, percentileOfSorted } from './stats.ts'
import { seededRandom, shuffled } from './zipf.ts'

export interface ColdListResult {
  samples: number
  httpP50Ms: number
  httpP99Ms: number
  sqlP50Ms: number
  sqlP99Ms: number
  sqlMaxMs: number
  /** Sampled queries the warmup had already cached (answered 'hit'); left out of the HTTP figures. */
  alreadyWarm: number
  slowest: { url: string; sqlMs: number }[]
  explain: { url: string; plan: string }[]
}

function toQuery(spec: ListSpec): ListQuery {
  const filters: ListQuery['filters'] = {}
  for (const [field, code] of spec.filters) filters[field] = [code]
  return { level: spec.level, page: spec.page, pageSize: DEFAULT_PAGE_SIZE, filters }
}

/** Distinct list queries in a seeded random order: the same sample for every phase that times cold lists. */
async function coldSample(db: Database, seed: number, size: number): Promise<ListSpec[]> {
  return shuffled(await enumerateListSpecs(db), seededRandom(seed + 1)).slice(0, size)
}

/** A Database that remembers the last statement, so the repository's own SQL can be EXPLAINed. */
function recording(db: Database): { db: Database; last: () => { sql: string; params: readonly unknown[] } | undefined } {
  let last: { sql: string; params: readonly unknown[] } | undefined
  const proxy: Database = {
    kind: db.kind,
    counter: db.counter,
    query: <Row>(sql: string, params: readonly unknown[] = []) => {
      last = { sql, params }
      return db.query<Row>(sql, params)
    },
    transaction: (fn) => db.transaction(fn),
    ping: () => db.ping(),
    close: () => db.close(),
  }
  return { db: proxy, last: () => last }
}

async function explain(db: Queryable, statement: { sql: string; params: readonly unknown[] }): Promise<string> {
  const rows = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${statement.sql}`, statement.params)
  return rows.map((row) => row['QUERY PLAN']).join('\n')
}

async function timeHttp(url: string): Promise<{ ms: number; state: string | null; status: number }> {
  const started = performance.now()
  const response = await fetch(url)
  await response.arrayBuffer()
  return { ms: performance.now() - started, state: response.headers.get('x-cache'), status: response.status }
}

export async function measureColdLists(env: BenchEnvironment, schema: string, redisPrefix: string): Promise<ColdListResult> {
  const { options } = env
  const db = await env.openDatabase(schema)
  const server = await ServerProcess.start({ mode: 'app', label: 'cold lists', env: env.serverEnv(schema, redisPrefix) })
  try {
    // Distinct queries in a seeded random order: each is requested once, so each is a miss
    // unless the warmup cached it.
    const sample = await coldSample(db, options.seed, options.coldSamples)
    const http: number[] = []
    let alreadyWarm = 0
    for (const spec of sample) {
      const result = await timeHttp(`${server.url}${listUrl(spec)}`)
      if (result.status !== 200) throw new Error(`GET ${listUrl(spec)} answered ${result.status}`)
      if (result.state === 'miss') http.push(result.ms)
      else alreadyWarm += 1
    }

    const { db: recorded, last } = recording(db)
    const repository = new SchoolRepository(recorded)
    const sql: { spec: ListSpec; ms: number; statement: { sql: string; params: readonly unknown[] } }[] = []
    for (const spec of sample) {
      const started = performance.now()
      await repository.list(toQuery(spec))
      sql.push({ spec, ms: performance.now() - started, statement: last()! })
    }
    const sortedHttp = [...http].sort((a, b) => a - b)
    const sortedSql = sql.map((entry) => entry.ms).sort((a, b) => a - b)
    const slowest = [...sql].sort((a, b) => b.ms - a.ms).slice(0, 5)

    // The unfiltered first page is the one every visitor sees first; add it if the sample lacks it.
    await repository.list({ level: 'primary', page: 1, pageSize: DEFAULT_PAGE_SIZE, filters: {} })
    const unfiltered = last()!
    const explained = [
      { url: listUrl({ level: 'primary', filters: [], page: 1 }), statement: unfiltered },
      ...slowest.slice(0, 1).map((entry) => ({ url: listUrl(entry.spec), statement: entry.statement })),
    ]
    const plans: { url: string; plan: string }[] = []
    for (const { url, statement } of explained) plans.push({ url, plan: await explain(db, statement) })

    return {
      samples: http.length,
      httpP50Ms: median(http),
      httpP99Ms: percentileOfSorted(sortedHttp, 0.99),
      sqlP50Ms: percentileOfSorted(sortedSql, 0.5),
      sqlP99Ms: percentileOfSorted(sortedSql, 0.99),
      sqlMaxMs: sortedSql[sortedSql.length - 1] ?? Number.NaN,
      alreadyWarm,
      slowest: slowest.map((entry) => ({ url: listUrl(entry.spec), sqlMs: entry.ms })),
      explain: plans,
    }
  } finally {
    await server.stop()
    await db.close()
  }
}
