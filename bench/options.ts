// Command-line flags of `npm run bench`. Defaults keep a full run under about five minutes on
// a 2-core machine; every figure in the report says which settings produced it.
import { parseArgs } from 'node:util'

export interface BenchOptions {
  /** Seconds each mode is loaded per round. */
  durationSeconds: number
  rounds: number
  connections: number
  /** Seconds of unrecorded load per mode before the first round, so every server is JIT-warm. */
  warmupSeconds: number
  replayRequests: number
  /** Requests the replay keeps in flight at once (in-process, through app.inject). */
  replayConcurrency: number
  zipfExponent: number
  seed: number
  /** 1 skips the synthetic phase; N > 1 repeats modes 1, 2 and 5 and the warmup on N copies of the data. */
  scale: number
  /** Cold list requests timed one at a time, per dataset. */
  coldSamples: number
  databaseUrl: string
  redisUrl: string
  /** Leave the Postgres schemas and Redis keys behind for inspection. */
  keep: boolean
  /** Re-render the Markdown of a saved results .json (no measuring). */
  render: string | undefined
  /** Write V8 CPU profiles of the throughput servers (and a summary of each) under bench/results/profiles/. */
  profile: boolean
  /** 'learned': only the learned-warm-set replay (bench/replay-learned.ts). */
  replay: 'learned' | undefined
  /** The phases to run (--only a,b; default: all of them, those the skip flags leave). */
  phases: Phase[]
  /** Rounds of the warmup-serving phase (one warmup after an import and one of unchanged data each). */
  warmupServingRounds: number
}

/**
 * The phases of a run, in the order they run: `--only` picks some. hits is the throughput
 * comparison (warm hits in every encoding, the ceiling, request counting off, the other paths).
 */
export const PHASES = ['burst', 'hits', 'warmup-serving', 'hot-path', 'cold', 'replay', 'warmups', 'boot'] as const
export type Phase = (typeof PHASES)[number]

const USAGE = `npm run bench -- [--duration 3] [--rounds 3] [--connections 50] [--warmup 1]
  [--replay-requests 100000] [--replay-concurrency 8] [--zipf 1.0] [--seed 42]
  [--scale 1] [--cold-samples 200] [--database-url URL] [--redis-url URL] [--keep]
  [--skip-replay] [--skip-throughput] [--skip-burst] [--burst-only] [--profile] [--render bench/results/<date>.json]
  [--replay learned] [--only ${PHASES.join(',')}] [--warmup-serving-rounds 2]
  --only runs the named phases alone (comma-separated), e.g. --only warmup-serving or --only hits,boot`

function number(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number from ${min} to ${max}, got '${raw}'\n${USAGE}`)
  return value
}

export function parseBenchOptions(argv: string[], env: Record<string, string | undefined>): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      'replay-requests': { type: 'string' },
      'replay-concurrency': { type: 'string' },
      zipf: { type: 'string' },
      seed: { type: 'string' },
      scale: { type: 'string' },
      'cold-samples': { type: 'string' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      keep: { type: 'boolean', default: false },
      'skip-replay': { type: 'boolean', default: false },
      'skip-throughput': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'skip-burst': { type: 'boolean', default: false },
      'burst-only': { type: 'boolean', default: false },
      render: { type: 'string' },
      replay: { type: 'string' },
      only: { type: 'string' },
      'warmup-serving-rounds': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  return {
    durationSeconds: number(values.duration, 'duration', 3, 0.5, 600),
    rounds: Math.round(number(values.rounds, 'rounds', 3, 1, 50)),
    connections: Math.round(number(values.connections, 'connections', 50, 1, 1000)),
    warmupSeconds: number(values.warmup, 'warmup', 1, 0, 60),
    replayRequests: Math.round(number(values['replay-requests'], 'replay-requests', 100_000, 100, 10_000_000)),
    replayConcurrency: Math.round(number(values['replay-concurrency'], 'replay-concurrency', 8, 1, 256)),
    zipfExponent: number(values.zipf, 'zipf', 1.0, 0, 5),
    seed: Math.round(number(values.seed, 'seed', 42, 0, 2 ** 31)),
    // Above ~800 copies the synthetic 6-digit school ids would run out (see synthetic.ts).
    scale: Math.round(number(values.scale, 'scale', 1, 1, 500)),
    coldSamples: Math.round(number(values['cold-samples'], 'cold-samples', 200, 10, 10_000)),
    databaseUrl: values['database-url'] ?? env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    redisUrl: values['redis-url'] ?? env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    keep: values.keep,
    profile: values.profile,
    render: values.render,
    replay: replayMode(values.replay),
    phases: phases(values.only, values),
    warmupServingRounds: Math.round(number(values['warmup-serving-rounds'], 'warmup-serving-rounds', 2, 1, 20)),
  }
}

function phases(only: string | undefined, flags: { 'skip-replay': boolean; 'skip-throughput': boolean; 'skip-burst': boolean; 'burst-only': boolean }): Phase[] {
  if (flags['burst-only']) return ['burst']
  if (only !== undefined) {
    const named = only.split(',').map((name) => name.trim()).filter(Boolean)
    const unknown = named.find((name) => !(PHASES as readonly string[]).includes(name))
    if (unknown !== undefined || named.length === 0) throw new Error(`--only takes phases from ${PHASES.join(', ')}, got '${only}'\n${USAGE}`)
    return PHASES.filter((phase) => named.includes(phase))
  }
  return PHASES.filter((phase) => !(phase === 'replay' && flags['skip-replay']) && !(phase === 'hits' && flags['skip-throughput']) && !(phase === 'burst' && flags['skip-burst']))
}

function replayMode(raw: string | undefined): 'learned' | undefined {
  if (raw === undefined) return undefined
  if (raw !== 'learned') throw new Error(`--replay must be 'learned', got '${raw}'\n${USAGE}`)
  return raw
}
