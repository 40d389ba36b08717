// What the read path of a warm list request costs, step by step, in this process: CPU and wall
// microseconds per call, with L1 and with Redis only. (The whole request's cost, network
// included, is the throughput phase's server CPU per request; its 'stubbed' mode separates the
// HTTP and framework work from this read path.)
import type { Runtime } from '../src/runtime.ts'
import type { ListRequest } from '../src/schools/reads.ts'
import type { BenchEnvironment } from './environment.ts'
import { openBenchRuntime } from './warmup-timing.ts'

export interface StepCost {
  step: string
  cpuMicros: number
  wallMicros: number
}

const BENCH_REQUEST: ListRequest = { page: 1, pageSize: 20, district: ['kowloon-city'] }

async function timeSteps(iterations: number, run: () => unknown): Promise<{ cpuMicros: number; wallMicros: number }> {
  // A short unrecorded pass first, so every step is measured JIT-compiled.
  for (let i = 0; i < Math.min(2000, iterations); i += 1) await run()
  const cpu = process.cpuUsage()
  const started = performance.now()
  for (let i = 0; i < iterations; i += 1) await run()
  const wall = (performance.now() - started) * 1000
  const used = process.cpuUsage(cpu)
  return { cpuMicros: (used.user + used.system) / iterations, wallMicros: wall / iterations }
}

async function readPathSteps(runtime: Runtime, label: string, iterations: number): Promise<StepCost[]> {
  const { reads, cache } = runtime
  const query = reads.parseListRequest('primary', BENCH_REQUEST)
  const key = reads.listKey(query)
  const prepared = reads.prepareList('primary', BENCH_REQUEST)
  await reads.list(query)
  const loader = (): Promise<unknown> => Promise.reject(new Error('the bench reads a warm key; a miss is a bug'))
  const steps: [string, () => unknown][] = [
    ['reads.parseListRequest', () => reads.parseListRequest('primary', BENCH_REQUEST)],
    ['reads.listKey (canonicalKey)', () => reads.listKey(query)],
    [`cache.getOrLoad, hit (${label})`, () => cache.getOrLoad(key, reads.policies.list, loader)],
    [`reads.list, parsing and keying every call, hit (${label})`, () => reads.list(reads.parseListRequest('primary', BENCH_REQUEST))],
    [`reads.list, query and key prepared once (routes.ts), hit (${label})`, () => reads.list(prepared.query, prepared.key)],
  ]
  const costs: StepCost[] = []
  for (const [step, run] of steps) costs.push({ step, ...(await timeSteps(iterations, run)) })
  return costs
}

export async function measureHotPath(env: BenchEnvironment, schema: string, redisPrefix: string, iterations = 20_000): Promise<StepCost[]> {
  const costs: StepCost[] = []
  const runtime = await openBenchRuntime(env, schema, redisPrefix)
  try {
    await runtime.runner.run({ groups: ['all'], trigger: 'bench' })
    costs.push(...(await readPathSteps(runtime, 'L1', iterations)))
  } finally {
    await runtime.close()
  }
  const redisOnly = await openBenchRuntime(env, schema, redisPrefix, { CACHE_L1: 'false' })
  try {
    costs.push(...(await readPathSteps(redisOnly, 'Redis only', Math.round(iterations / 4))).slice(2))
  } finally {
    await redisOnly.close()
  }
  return costs
}
