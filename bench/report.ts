// Turns a run's results into the target checks and the Markdown report (bench/results/*.md);
// the JSON file holds the same results in full, every round included.
import type { BootMemory } from './boot-memory.ts'
import type { BurstResult } from './burst.ts'
import type { BenchOptions } from './options.ts'
import type { ColdListResult } from './cold-lists.ts'
import type { StepCost } from './hot-path.ts'
import type { MachineInfo } from './machine.ts'
import type { ReplayResult } from './replay.ts'
import { pairedRpsRatio, type ModeKey, type ModeSummary, type ThroughputResult } from './throughput.ts'
import type { WarmupTiming } from './warmup-timing.ts'
import { WARMUP_SERVING_TARGETS, type WarmupKind, type WarmupServingResult } from './warmup-serving.ts'

export interface DatasetResults {
  label: string
  rows: number
  hotPath?: StepCost[]
  throughput?: ThroughputResult
  coldLists?: ColdListResult
  warmups?: { first: WarmupTiming; second: WarmupTiming; byGroup: WarmupTiming[] }
  burst?: BurstResult
  warmupServing?: WarmupServingResult
  boot?: BootMemory[]
}

export interface BenchResults {
  startedAt: string
  finishedAt: string
  durationSeconds: number
  machine: MachineInfo
  options: Omit<BenchOptions, 'databaseUrl' | 'redisUrl'>
  real: DatasetResults
  replay?: ReplayResult
  scaled?: DatasetResults & { scale: number; generateMs: number }
  targets: TargetCheck[]
  cleanUpProblems: string[]
}

export interface TargetCheck {
  name: string
  target: string
  measured: string
  pass: boolean
}

const fixed = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a')
const thousands = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a')
const percent = (value: number, digits = 2): string => `${fixed(value * 100, digits)}%`

function mode(throughput: ThroughputResult | undefined, key: ModeKey): ModeSummary | undefined {
  return throughput?.modes.find((summary) => summary.mode === key)
}

export function evaluateTargets(results: Omit<BenchResults, 'targets' | 'finishedAt' | 'durationSeconds' | 'cleanUpProblems'>): TargetCheck[] {
  const checks: TargetCheck[] = []
  const check = (name: string, target: string, value: number | undefined, measured: (value: number) => string, pass: (value: number) => boolean): void => {
    if (value === undefined || !Number.isFinite(value)) return
    checks.push({ name, target, measured: measured(value), pass: pass(value) })
  }
  const { throughput } = results.real
  const nocache = mode(throughput, 'nocache')
  for (const [key, label] of [['l1', 'identity'], ['l1-br', 'br'], ['l1-gzip', 'gzip']] as const) {
    const l1 = mode(throughput, key)
    check(`warm L1 hit vs ceiling, ${label}`, '>= 0.85 x ceiling req/s (same bytes)', l1?.rpsRatio, (v) => `${fixed(v)} x`, (v) => v >= 0.85)
    check(`warm L1 hit p99 vs ceiling p99, ${label}`, '<= 1.2 x (same round)', l1?.p99Ratio, (v) => `${fixed(v)} x (${fixed(l1?.p99Ms ?? Number.NaN)} ms; p99.9 ${fixed(l1?.p999Ms ?? Number.NaN)} ms)`, (v) => v <= 1.2)
  }
  for (const [key, label] of [['redis', 'identity'], ['redis-br', 'br']] as const) {
    check(`warm Redis-only vs ceiling, ${label}`, '>= 0.5 x ceiling req/s', mode(throughput, key)?.rpsRatio, (v) => `${fixed(v)} x`, (v) => v >= 0.5)
  }
  const l1 = mode(throughput, 'l1')
  check('warm L1 hit vs no cache', '>= 5 x no-cache req/s', l1 && nocache ? pairedRpsRatio(throughput, 'l1', 'nocache') : undefined, (v) => `${fixed(v, 1)} x`, (v) => v >= 5)
  const nostats = mode(throughput, 'l1-nostats')
  check('warm L1 hit, request counting on vs off', '>= 0.97 x req/s', pairedRpsRatio(throughput, 'l1', 'l1-nostats'), (v) => `${fixed(v)} x (CPU per request ${fixed(l1?.serverCpuMicrosPerRequest ?? Number.NaN, 0)} vs ${fixed(nostats?.serverCpuMicrosPerRequest ?? Number.NaN, 0)} µs)`, (v) => v >= 0.97)
  check('warm-hit p99 during a burst of distinct cold queries', '<= 2 x p99 without it', results.real.burst?.p99Ratio, (v) => `${fixed(v)} x (${fixed(results.real.burst?.burstP99Ms ?? Number.NaN)} ms vs ${fixed(results.real.burst?.quietP99Ms ?? Number.NaN)} ms)`, (v) => v <= 2)
  const serving = results.real.warmupServing
  for (const kind of ['after-import', 'unchanged'] as const) {
    const summary = serving?.summary[kind]
    const target = WARMUP_SERVING_TARGETS[kind]
    check(`warm-hit req/s during a warmup ${warmupLabel(kind)}`, `>= ${target.rps} x the seconds before`, summary?.rpsRatio, (v) => `${fixed(v)} x (${thousands(summary?.keys ?? Number.NaN)} keys in ${thousands(summary?.runMs ?? Number.NaN)} ms)`, (v) => v >= target.rps)
    check(`warm-hit p99 during a warmup ${warmupLabel(kind)}`, `<= ${target.p99} x the seconds before`, summary?.p99Ratio, (v) => `${fixed(v)} x`, (v) => v <= target.p99)
  }
  // The memory goal is for PostgreSQL + Redis, the deployment it was set on; PGlite's figures are
  // in the boot table, above it by the PostgreSQL that runs in the process (README, Memory).
  for (const boot of results.real.boot ?? []) {
    if (boot.processes === 1 && boot.database === 'postgres') check(`RSS after the boot warmup, ${boot.label}`, '<= 150 MB', boot.rssMb, (v) => `${fixed(v, 0)} MB`, (v) => v <= 150)
  }
  const { replay } = results
  check('replay hit ratio', '>= 99%', replay?.hitRatio, (v) => percent(v), (v) => v >= 0.99)
  check('replay database queries', '<= 10 per 1,000 requests', replay?.queriesPer1000, (v) => fixed(v, 1), (v) => v <= 10)
  check('default warmup (cold process)', '< 500 ms', results.real.warmups?.first.durationMs ?? replay?.defaultWarmup.durationMs, (v) => `${thousands(v)} ms`, (v) => v < 500)
  check('warmup of every school detail', '< 5 s', results.real.warmups?.byGroup.find((timing) => timing.groups === 'details')?.durationMs, (v) => `${thousands(v)} ms`, (v) => v < 5000)
  const scaled = results.scaled
  if (scaled) {
    const label = `x${scaled.scale}`
    check(`${label} cold list p50 (HTTP, miss)`, '< 20 ms', scaled.coldLists?.httpP50Ms, (v) => `${fixed(v)} ms`, (v) => v < 20)
    check(`${label} warm L1 hit vs ceiling`, '>= 0.85 x ceiling req/s (unchanged)', mode(scaled.throughput, 'l1')?.rpsRatio, (v) => `${fixed(v)} x`, (v) => v >= 0.85)
    check(`${label} warm L1 hit p99 vs ceiling p99`, '<= 1.2 x (unchanged)', mode(scaled.throughput, 'l1')?.p99Ratio, (v) => `${fixed(v)} x`, (v) => v <= 1.2)
    check(`${label} default warmup (cold process)`, '< 500 ms (same keys)', scaled.warmups?.first.durationMs, (v) => `${thousands(v)} ms`, (v) => v < 500)
  }
  return checks
}

function warmupLabel(kind: WarmupKind): string {
  return kind === 'after-import' ? 'after an import (changed data)' : 'of unchanged data'
}

const mb = (bytes: number): string => fixed(bytes / 1024 / 1024, 0)

function modeRow(m: ModeSummary): string {
  return `| ${m.title} | ${thousands(m.requestsPerSecond)} | ${fixed(m.rpsRatio)} | ${fixed(m.p50Ms)} | ${fixed(m.p99Ms)} | ${fixed(m.p99Ratio)} | ${fixed(m.p999Ms)} | ${fixed(m.maxMs, 1)} | ${thousands(m.wireBytes)} | ${fixed(m.queriesPer1000, 1)} | ${fixed(m.serverCpuMicrosPerRequest, 0)} | ${fixed(m.cpuPerRequestRatio)} | ${fixed(m.serverCpuPercent, 0)}% | ${fixed(m.loadGeneratorCpuPercent, 0)}% |${m.failures > 0 ? ` **${m.failures} failed requests**` : ''}`
}

/** The many-keys modes (throughput.ts), each against its own reference: L1 on the same keys for Redis-only. */
function manyKeysTable(result: ThroughputResult): string[] {
  const spread = result.modes.filter((m) => m.keys !== undefined)
  if (spread.length === 0) return []
  return [
    '',
    `The same servers over ${thousands(spread[0]!.keys!)} keys (page 1 of every filter value of the level, each connection asking for them in turn), so the requests one turn of the event loop parses seldom share a key: the single-key rows above are a hot key, whose concurrent Redis reads are read once. The x columns are against the ceiling for L1 and against L1 on the same keys for Redis-only (the bodies differ from the ceiling's).`,
    '',
    '| mode | req/s | x | p50 ms | p99 ms | x | p99.9 ms | max ms | wire bytes | DB queries / 1,000 req | server CPU µs / req | x | server CPU | autocannon CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...spread.map(modeRow),
  ]
}

function throughputTable(result: ThroughputResult, options: BenchResults['options']): string[] {
  const ceiling = mode(result, 'ceiling')
  // Closed loop: each connection waits for its response, so mean latency = connections / throughput.
  const neededRps = options.connections / 0.010
  const lines = [
    `\`GET ${result.path}\`, body ${thousands(result.payloadBytes)} bytes identity${result.encodedBytes ? `, ${thousands(result.encodedBytes.gzip)} gzip, ${thousands(result.encodedBytes.br)} br` : ''} (the same bytes from every server of an encoding: ${Object.values(result.payloadIdentical).every(Boolean) ? 'yes' : `NO: ${JSON.stringify(result.payloadIdentical)}`}), ${options.connections} connections, ${options.rounds} rounds x ${options.durationSeconds} s per mode, modes in turn within each round; medians over rounds, each ratio taken against the ceiling sending the same encoding in the same round. Wire bytes: per response, headers included.`,
    '',
    '| mode | req/s | x ceiling | p50 ms | p99 ms | x | p99.9 ms | max ms | wire bytes | DB queries / 1,000 req | server CPU µs / req | x | server CPU | autocannon CPU |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...result.modes.filter((m) => m.keys === undefined).map(modeRow),
    '',
    `Latency at a fixed number of connections is throughput in disguise: each connection sends its next request when the last one returns, so mean latency = connections / req/s (Little's law). A mean of 10 ms at ${options.connections} connections takes ${thousands(neededRps)} req/s, a p99 of 10 ms more; the ceiling here does ${thousands(ceiling?.requestsPerSecond ?? Number.NaN)} req/s (mean ${fixed(options.connections / ((ceiling?.requestsPerSecond ?? Number.NaN) / 1000))} ms). Server CPU per request does not depend on that and moves less than req/s when other processes take the cores (it still moves: a starved server batches less per wake-up), so it is the better column for comparing the modes' own work. Server and autocannon CPU well under 100% mean other processes had the cores.`,
    ...manyKeysTable(result),
  ]
  if (result.memory && result.memory.length > 0) {
    lines.push(
      '',
      'Memory of each server process (process.memoryUsage, MB; the app servers run under tsx, whose compiler adds to the heap: the boot phase measures `npm start` itself), after its start (the app: after its default warmup) and after all its loads:',
      '',
      '| server | RSS after start | RSS after the loads | heap used | heap total | external (Buffers) |',
      '|---|---:|---:|---:|---:|---:|',
      ...result.memory.map((m) => `| ${m.server} | ${mb(m.afterBoot.rss)} | ${mb(m.afterLoad.rss)} | ${mb(m.afterLoad.heapUsed)} | ${mb(m.afterLoad.heapTotal)} | ${mb(m.afterLoad.external)} |`),
    )
  }
  return lines
}

function warmupServingSection(result: WarmupServingResult): string[] {
  const series = (run: WarmupServingResult['runs'][number]): string => run.series.map((second) => `${second.phase === 'during' ? '**' : ''}${second.requests}${second.phase === 'during' ? '**' : ''}`).join(' ')
  return [
    `Steady load on \`GET ${result.path}\` (${result.connections} connections) against one app server (L1 + Redis), while it runs a full warmup after an import of changed data (a one-school banding file whose band alternates, uploaded through \`POST /api/admin/import/banding\`: expire all, warm all) and then a warmup of unchanged data (\`POST /api/scheduler/warmup\`). "During" is the run's own span from its record; "before" the ${result.quietSeconds} s before the request, "after" the ${result.quietSeconds} s after the run.`,
    '',
    '| warmup | round | keys | run ms | req/s before | during | after | x | p99 ms before | during | after | x | p99.9 ms during |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...result.runs.map((run) => `| ${warmupLabel(run.kind)} | ${run.round} | ${thousands(run.keys)} | ${thousands(run.runMs)} | ${thousands(run.before.requestsPerSecond)} | ${thousands(run.during.requestsPerSecond)} | ${thousands(run.after.requestsPerSecond)} | ${fixed(run.rpsRatio)} | ${fixed(run.before.p99Ms, 1)} | ${fixed(run.during.p99Ms, 1)} | ${fixed(run.after.p99Ms, 1)} | ${fixed(run.p99Ratio)} | ${fixed(run.during.p999Ms, 1)} |`),
    '',
    'Responses per second, second by second (bold: during the warmup):',
    '',
    ...result.runs.map((run) => `- ${warmupLabel(run.kind)}, round ${run.round}: ${series(run)}`),
  ]
}

function bootTable(boots: BootMemory[]): string[] {
  return [
    'Each deployment started as `npm start` runs it (package.json\'s start script on dist/), from an empty cache; RSS summed over its processes a second after the boot warmup finished (/proc/<pid>/status), heap and external from its /metrics. The RSS goal (<= 150 MB for one process) is for PostgreSQL + Redis; PGlite runs PostgreSQL itself inside the process (README, Memory):',
    '',
    '| deployment | processes | ready s | boot warmup keys | boot warmup s | RSS MB | RSS per process | heap used / total MB | external MB |',
    '|---|---:|---:|---:|---:|---:|---|---:|---:|',
    ...boots.map((boot) => `| ${boot.label} | ${boot.processes} | ${fixed(boot.readyMs / 1000, 1)} | ${thousands(boot.bootWarmupKeys)} | ${fixed(boot.bootWarmupMs / 1000, 1)} | ${fixed(boot.rssMb, 0)} | ${boot.rssMbPerProcess.map((v) => fixed(v, 0)).join(' + ')} | ${boot.heapUsedMb === undefined ? '' : `${fixed(boot.heapUsedMb, 0)} / ${fixed(boot.heapTotalMb ?? Number.NaN, 0)}`} | ${boot.externalMb === undefined ? '' : fixed(boot.externalMb, 0)} |`),
  ]
}

function hotPathTable(costs: StepCost[]): string[] {
  return [
    'The read path of the warm list request, in-process, microseconds per call (sequential, awaited):',
    '',
    '| step | CPU µs | wall µs |',
    '|---|---:|---:|',
    ...costs.map((cost) => `| ${cost.step} | ${fixed(cost.cpuMicros, 1)} | ${fixed(cost.wallMicros, 1)} |`),
  ]
}

function warmupTable(warmups: NonNullable<DatasetResults['warmups']>): string[] {
  return [
    '| warmup | keys | failed | ms |',
    '|---|---:|---:|---:|',
    `| ${warmups.first.groups} (default), first in a fresh process | ${warmups.first.keys} | ${warmups.first.failed} | ${thousands(warmups.first.durationMs)} |`,
    `| ${warmups.second.groups} (default), again | ${warmups.second.keys} | ${warmups.second.failed} | ${thousands(warmups.second.durationMs)} |`,
    ...warmups.byGroup.map((timing) => `| ${timing.groups} | ${timing.keys} | ${timing.failed} | ${thousands(timing.durationMs)} |`),
  ]
}

function coldTable(cold: ColdListResult): string[] {
  return [
    `${cold.samples} distinct list queries never requested before (seeded random sample of the query space${cold.alreadyWarm ? `; ${cold.alreadyWarm} sampled queries were already warm and are left out` : ''}), one at a time:`,
    '',
    '| cold list (cache miss) | p50 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|',
    `| HTTP round trip (query, serialise, store, send) | ${fixed(cold.httpP50Ms)} | ${fixed(cold.httpP99Ms)} | |`,
    `| SQL alone (SchoolRepository.list) | ${fixed(cold.sqlP50Ms)} | ${fixed(cold.sqlP99Ms)} | ${fixed(cold.sqlMaxMs)} |`,
  ]
}

function replaySection(replay: ReplayResult): string[] {
  return [
    `${thousands(replay.requests)} requests, Zipf s = ${replay.zipfExponent} (seed ${replay.seed}) over ${thousands(replay.queryKeys)} distinct requests, after one default warmup (${replay.defaultWarmup.keys} keys in ${replay.defaultWarmup.durationMs} ms); the app in-process (app.inject, ${replay.concurrency} in flight, ${thousands(replay.requestsPerSecondInProcess)} req/s), L1 + Redis. The warm set carries ${percent(replay.warmSetTrafficShare, 1)} of the Zipf traffic.`,
    '',
    '| hit ratio (hit + stale) | stale ratio | misses | DB queries / 1,000 req | distinct requests seen | non-200 |',
    '|---:|---:|---:|---:|---:|---:|',
    `| ${percent(replay.hitRatio)} | ${percent(replay.staleRatio)} | ${thousands(replay.misses)} | ${fixed(replay.queriesPer1000, 1)} | ${thousands(replay.distinctKeysRequested)} | ${replay.non200.length} |`,
    '',
    ...(replay.non200.length > 0 ? [`Not 200 (first ${replay.non200.length}): ${replay.non200.map((r) => `${r.status} ${r.url}`).join(', ')}.${replay.non200.some((r) => r.status === 503) ? ' A 503 here is a cold key whose query outlived DATABASE_TIMEOUT_MS with nothing cached to fall back on.' : ''}`, ''] : []),
    `Why the misses: ${thousands(replay.missReasons.firstRequestOutsideWarmSet)} first requests of keys outside the warm set, ${replay.missReasons.inWarmSet} misses of warm-set keys, ${replay.missReasons.repeatMissOfSameKey} repeat misses of one key (eviction or expiry).${replay.missReasons.inWarmSet === 0 && replay.missReasons.repeatMissOfSameKey === 0 ? ' So every miss is the first request of a key that no warmup loaded.' : ''} The same sequence against larger warm sets:`,
    '',
    '| warm set | keys | hit ratio | DB queries / 1,000 req |',
    '|---|---:|---:|---:|',
    ...replay.whatIf.map((row) => `| ${row.warmSet} | ${thousands(row.keys)} | ${percent(row.hitRatio)} | ${fixed(row.queriesPer1000, 1)} |`),
    '',
    'Misses by request class:',
    '',
    '| request class | distinct keys | requests | misses | keys missed |',
    '|---|---:|---:|---:|---:|',
    ...replay.byGroup.map((group) => `| ${group.group} | ${thousands(group.keys)} | ${thousands(group.requests)} | ${thousands(group.misses)} | ${thousands(group.distinctMissedKeys)} |`),
  ]
}

export function renderMarkdown(results: BenchResults): string {
  const { machine, options } = results
  const lines: string[] = [
    `# Benchmark ${results.startedAt}`,
    '',
    `Machine: ${machine.cpuModel}, ${machine.cpus} cores, ${machine.memoryGb} GB, ${machine.os}; Node ${machine.node}; ${machine.postgres}; Redis ${machine.redis}. Load average ${machine.loadAverageStart.map((v) => fixed(v)).join(' / ')} at the start, ${machine.loadAverageEnd.map((v) => fixed(v)).join(' / ')} at the end (1 / 5 / 15 min)${machine.loadAverageStart[0]! > machine.cpus * 0.5 ? ': the machine was shared, so absolute figures are noisy; the ratios are taken within a round' : ''}. Commit ${machine.commit}. Run took ${thousands(results.durationSeconds)} s.`,
    '',
    'Setup: each server in its own child process (one core), autocannon in the parent (the other core); PostgreSQL and Redis on loopback.',
    '',
    '## Targets',
    '',
    '| target | goal | measured | |',
    '|---|---|---|---|',
    ...results.targets.map((t) => `| ${t.name} | ${t.target} | ${t.measured} | ${t.pass ? 'PASS' : '**FAIL**'} |`),
  ]
  if (results.real.throughput) lines.push('', `## Throughput (bundled data, ${thousands(results.real.rows)} schools)`, '', ...throughputTable(results.real.throughput, options))
  if (results.real.warmupServing) lines.push('', '## Serving during warmups', '', ...warmupServingSection(results.real.warmupServing))
  if (results.real.boot) lines.push('', '## Boot warmup and memory (`npm start`)', '', ...bootTable(results.real.boot))
  if (results.real.hotPath) lines.push('', '## Read path of a warm request (bundled data)', '', ...hotPathTable(results.real.hotPath))
  if (results.real.coldLists) lines.push('', '## Cold lists (bundled data)', '', ...coldTable(results.real.coldLists))
  if (results.replay) lines.push('', '## Replay', '', ...replaySection(results.replay))
  if (results.real.warmups) lines.push('', '## Warmup (bundled data)', '', ...warmupTable(results.real.warmups))
  const scaled = results.scaled
  if (scaled) {
    lines.push('', `## Scale x${scaled.scale}: ${thousands(scaled.rows)} synthetic schools (generated in ${thousands(scaled.generateMs)} ms)`)
    if (scaled.throughput) lines.push('', ...throughputTable(scaled.throughput, options))
    if (scaled.coldLists) lines.push('', ...coldTable(scaled.coldLists))
    if (scaled.warmups) lines.push('', ...warmupTable(scaled.warmups))
  }
  const plans = [results.real, ...(scaled ? [scaled] : [])].flatMap((dataset) => (dataset.coldLists?.explain ?? []).map((plan) => ({ ...plan, label: dataset.label })))
  if (plans.length > 0) {
    lines.push('', '## Query plans')
    for (const plan of plans) lines.push('', `EXPLAIN ANALYZE, ${plan.label}, \`${plan.url}\`:`, '', '```', plan.plan, '```')
  }
  lines.push('', '## Rerun', '', '```sh', 'npm run bench                  # defaults: 3 rounds x 3 s per mode, 50 connections, 100,000-request replay', 'npm run bench -- --scale 100   # adds the synthetic x100 dataset', 'npm run bench -- --only warmup-serving   # one phase alone (burst, hits, warmup-serving, hot-path, cold, replay, warmups, boot)', 'npm run bench -- --help', '```', '')
  return lines.join('\n')
}
