// `npm run bench`: throughput of the warm read path against a ceiling and three other ways of
// serving the same page, the cost of a cold list, a Zipf replay of the whole query space for
// the cache's hit ratio, warmup durations, and (--scale N) the same on N times the data.
// Writes bench/results/<date>.json and .md (and latest.md), prints PASS/FAIL per target, and
// removes its PostgreSQL schemas and Redis keys at the end.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { measureBurst } from './burst.ts'
import { measureColdLists } from './cold-lists.ts'
import { BenchEnvironment } from './environment.ts'
import { measureHotPath } from './hot-path.ts'
import { describeMachine } from './machine.ts'
import { measureBootMemory } from './boot-memory.ts'
import { parseBenchOptions, type Phase } from './options.ts'
import { evaluateTargets, renderMarkdown, type BenchResults, type DatasetResults } from './report.ts'
import { runReplay, type ReplayResult } from './replay.ts'
import { renderLearnedMarkdown, runLearnedReplay } from './replay-learned.ts'
import { summariseProfileDirs } from './profile-summary.ts'
import { generateSyntheticSchools } from './synthetic.ts'
import { measureThroughput } from './throughput.ts'
import { measureWarmups } from './warmup-timing.ts'
import { measureWarmupServing } from './warmup-serving.ts'

const RESULTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results')

function log(line: string): void {
  console.log(line)
}

function stamp(date: Date): string {
  return date.toISOString().replace(/:\d\d\.\d+Z$/, 'Z').replace(':', '')
}

async function main(): Promise<number> {
  const options = parseBenchOptions(process.argv.slice(2), process.env)
  if (options.render) {
    const markdown = renderMarkdown(JSON.parse(await readFile(options.render, 'utf8')) as BenchResults)
    await writeFile(options.render.replace(/\.json$/, '.md'), markdown)
    await writeFile(path.join(RESULTS_DIR, 'latest.md'), markdown)
    log(`rendered ${options.render.replace(/\.json$/, '.md')} and latest.md`)
    return 0
  }
  const started = new Date()
  const env = new BenchEnvironment(options)
  const machine = await describeMachine(options.databaseUrl, options.redisUrl)
  log(`bench ${env.id}: ${machine.cpus} x ${machine.cpuModel}, load average ${machine.loadAverageStart.map((v) => v.toFixed(2)).join(' ')}`)

  let real: DatasetResults | undefined
  let replay: ReplayResult | undefined
  let scaled: BenchResults['scaled']
  let cleanUpProblems: string[] = []
  try {
    const realSchema = env.schema('real')
    const imported = await env.importBundledData(realSchema)
    log(`imported the bundled data into ${realSchema}: ${imported.rows} schools in ${imported.importMs.toFixed(0)} ms`)
    real = { label: 'bundled data', rows: imported.rows }
    if (options.replay === 'learned') {
      log('learned warm set replay')
      const learned = await runLearnedReplay(env, realSchema, log)
      const markdown = renderLearnedMarkdown(learned, `${started.toISOString()}; ${machine.cpus} x ${machine.cpuModel}, load average ${machine.loadAverageStart.map((v) => v.toFixed(2)).join(' ')} at start, ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} at end`)
      await mkdir(RESULTS_DIR, { recursive: true })
      const base = path.join(RESULTS_DIR, `learned-${stamp(started)}`)
      await writeFile(`${base}.json`, `${JSON.stringify(learned, null, 2)}\n`)
      await writeFile(`${base}.md`, markdown)
      log(markdown)
      log(`results: ${path.relative(process.cwd(), base)}.json, .md`)
      return 0
    }
    const runs = (phase: Phase): boolean => options.phases.includes(phase)
    if (runs('burst')) {
      log('warm hits during a burst of distinct cold queries')
      real.burst = await measureBurst(env, realSchema, env.redisPrefix('burst'), log)
      log(`  warm-hit p99 during the burst / without it: ${real.burst.p99Ratio.toFixed(2)} (goal <= 2; ${real.burst.burstP99Ms.toFixed(2)} ms vs ${real.burst.quietP99Ms.toFixed(2)} ms)`)
    }
    if (runs('hits')) {
      log('throughput, bundled data')
      const profileDir = options.profile ? path.join(RESULTS_DIR, 'profiles', stamp(started)) : undefined
      real.throughput = await measureThroughput(env, realSchema, env.redisPrefix('real'), ['ceiling', 'stubbed', 'l1', 'l1-nostats', 'redis', 'naive', 'nocache'], ['identity', 'br', 'gzip'], log, profileDir)
      if (profileDir) for (const file of summariseProfileDirs(profileDir)) log(`  profile summary: ${path.relative(process.cwd(), file)}`)
    }
    if (runs('warmup-serving')) {
      log('serving a warm key during warmups')
      real.warmupServing = await measureWarmupServing(env, realSchema, env.redisPrefix('wserve'), options.warmupServingRounds, log)
    }
    if (runs('hot-path')) {
      log('read path, in-process')
      real.hotPath = await measureHotPath(env, realSchema, env.redisPrefix('hot'))
      for (const cost of real.hotPath) log(`  ${cost.step}: ${cost.cpuMicros.toFixed(1)} µs CPU, ${cost.wallMicros.toFixed(1)} µs wall`)
    }
    if (runs('cold')) {
      log('cold lists, bundled data')
      real.coldLists = await measureColdLists(env, realSchema, env.redisPrefix('cold'))
    }
    if (runs('replay')) {
      log('replay')
      replay = await runReplay(env, realSchema, env.redisPrefix('replay'), log)
    }
    if (runs('warmups')) {
      log('warmups, bundled data')
      real.warmups = await measureWarmups(env, realSchema, env.redisPrefix('warm'), true)
    }
    if (runs('boot')) {
      log('boot warmup and memory, as `npm start` runs (dist/)')
      real.boot = await measureBootMemory(env, realSchema, log)
    }

    if (options.scale > 1) {
      const schema = env.schema(`x${options.scale}`)
      const db = await env.openDatabase(schema, 600_000)
      const generated = await generateSyntheticSchools(db, realSchema, schema, options.scale).finally(() => db.close())
      log(`scale x${options.scale}: ${generated.rows} synthetic schools in ${schema}, generated in ${generated.generateMs.toFixed(0)} ms`)
      scaled = { label: `synthetic x${options.scale}`, scale: options.scale, rows: generated.rows, generateMs: generated.generateMs }
      if (options.phases.includes('hits')) scaled.throughput = await measureThroughput(env, schema, env.redisPrefix(`x${options.scale}`), ['ceiling', 'l1', 'nocache'], ['identity'], log)
      if (options.phases.includes('cold')) {
        log(`cold lists, x${options.scale}`)
        scaled.coldLists = await measureColdLists(env, schema, env.redisPrefix(`x${options.scale}_cold`))
      }
      if (options.phases.includes('warmups')) {
        log(`warmups, x${options.scale}`)
        scaled.warmups = await measureWarmups(env, schema, env.redisPrefix(`x${options.scale}_warm`), false)
      }
    }
  } finally {
    if (options.keep) log(`--keep: leaving schemas and Redis keys ${env.id}* in place`)
    else cleanUpProblems = await env.cleanUp()
  }

  machine.loadAverageEnd = os.loadavg()
  const finished = new Date()
  const { databaseUrl: _databaseUrl, redisUrl: _redisUrl, ...shownOptions } = options
  const partial = { startedAt: started.toISOString(), machine, options: shownOptions, real, ...(replay ? { replay } : {}), ...(scaled ? { scaled } : {}) }
  const results: BenchResults = {
    ...partial,
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    targets: evaluateTargets(partial),
    cleanUpProblems,
  }
  const markdown = renderMarkdown(results)
  await mkdir(RESULTS_DIR, { recursive: true })
  const base = path.join(RESULTS_DIR, stamp(started))
  await writeFile(`${base}.json`, `${JSON.stringify(results, null, 2)}\n`)
  await writeFile(`${base}.md`, markdown)
  await writeFile(path.join(RESULTS_DIR, 'latest.md'), markdown)

  log('')
  log(markdown)
  for (const problem of cleanUpProblems) log(`clean-up problem: ${problem}`)
  log(`results: ${path.relative(process.cwd(), base)}.json, .md`)
  for (const target of results.targets) log(`${target.pass ? 'PASS' : 'FAIL'}  ${target.name}: ${target.measured} (goal ${target.target})`)
  // A failed target is a finding, not a crash: the exit code stays 0.
  return 0
}

main().then((code) => process.exit(code), (error: unknown) => {
  console.error(error)
  process.exit(1)
})
