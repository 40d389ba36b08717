// Warmup durations, as the runner reports them (runner.run per group; durationMs covers
// listing the keys and warming them all). A key count is given with each, since a warmup
// should grow with the number of keys it warms, not with the number of rows behind them.
import { DEFAULT_SCHEDULE } from '../src/config.ts'
import { createLogger } from '../src/logger.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import type { BenchEnvironment } from './environment.ts'

export interface WarmupTiming {
  groups: string
  keys: number
  failed: number
  durationMs: number
}

export async function timeWarmup(runtime: Runtime, groups: string[]): Promise<WarmupTiming> {
  const summary = await runtime.runner.run({ groups, trigger: 'bench' })
  return { groups: groups.join('+'), keys: summary.keys, failed: summary.failed, durationMs: summary.durationMs }
}

/** Opens the production configuration (L1 + Redis, no scheduler) on `schema`, for in-process phases. */
export async function openBenchRuntime(env: BenchEnvironment, schema: string, redisPrefix: string, extraEnv: Record<string, string> = {}): Promise<Runtime> {
  // Failed requests are counted and listed in the results; their log lines would bury the output.
  const config = env.config(schema, redisPrefix, { LOG_LEVEL: 'fatal', ...extraEnv })
  return openRuntime({ config, logger: createLogger(config), schedule: false, defaultMetrics: false })
}

/** What the default schedule's daily jobs warm: every group, details included. */
export const DAILY_WARMUP_GROUPS: string[] = DEFAULT_SCHEDULE[0]!.groups

/**
 * A cold default warmup (the daily job's groups, first run in a fresh process and cache), a
 * second one, then every group on its own. Without details (`withDetails` false: one key per
 * school, so at --scale 100 it is 100 times the keys), the default is 'all'.
 */
export async function measureWarmups(env: BenchEnvironment, schema: string, redisPrefix: string, withDetails: boolean): Promise<{ first: WarmupTiming; second: WarmupTiming; byGroup: WarmupTiming[] }> {
  const runtime = await openBenchRuntime(env, schema, redisPrefix)
  try {
    const groups = withDetails ? DAILY_WARMUP_GROUPS : ['all']
    const first = await timeWarmup(runtime, groups)
    const second = await timeWarmup(runtime, groups)
    const byGroup: WarmupTiming[] = []
    for (const group of ['primary', 'secondary', 'filters', 'stats', ...(withDetails ? ['details'] : [])]) byGroup.push(await timeWarmup(runtime, [group]))
    return { first, second, byGroup }
  } finally {
    await runtime.close()
  }
}
