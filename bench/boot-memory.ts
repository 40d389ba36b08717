// The deployment as `npm start` runs it (package.json's start script, compiled dist/), booted
// from a cold cache: how long its boot warmup takes and how much memory it holds afterwards, on
// PGlite and on PostgreSQL + Redis, with one process and with `--workers 2`. RSS is read from
// /proc/<pid>/status for the process and every child (the workers); the heap and external
// figures come from the server's own /metrics (prom-client's default metrics), one process only.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ADMIN_TOKEN, type BenchEnvironment } from './environment.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const METRICS_TOKEN = 'bench-metrics-token-0123456789'
const BOOT_TIMEOUT_MS = 180_000

export interface BootMemory {
  label: string
  /** The deployment's database: PGlite in the process, or PostgreSQL (with Redis) over the network. */
  database: 'pglite' | 'postgres'
  processes: number
  /** From spawning to /health/ready answering 200. */
  readyMs: number
  /** The boot warmup run's own duration (its record) and key count. */
  bootWarmupMs: number
  bootWarmupKeys: number
  /** Spawn to the boot warmup's end. */
  warmMs: number
  /** MB, every process of the deployment, a second after the boot warmup finished. */
  rssMb: number
  rssMbPerProcess: number[]
  /** MB, from /metrics (one process only). */
  heapUsedMb?: number
  heapTotalMb?: number
  externalMb?: number
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** package.json's start script after `node`: its flags and the entry point (`serve` left out). */
function startCommand(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  const words = pkg.scripts.start!.trim().split(/\s+/)
  if (words[0] !== 'node' || words.at(-1) !== 'serve') throw new Error(`package.json's start script must be 'node [flags] <entry> serve': ${pkg.scripts.start}`)
  return words.slice(1, -1)
}

/** The node flags `npm start` runs with, so the bench's server processes run with them too. */
export function startScriptNodeFlags(): string[] {
  return startCommand().filter((word) => word.startsWith('--'))
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
}

async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    // Field 4 (ppid) comes after the command name in parentheses, which may contain spaces.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    if (ppid === pid) children.push(Number(entry))
  }
  return children
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function get(url: string, token?: string): Promise<{ status: number; text: string }> {
  try {
    const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {})
    return { status: response.status, text: await response.text() }
  } catch {
    return { status: 0, text: '' }
  }
}

function metric(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)`, 'm').exec(text)
  return match ? Number(match[1]) : undefined
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  await exited
  clearTimeout(timer)
}

/** Boots the deployment with `env`, waits for its boot warmup to finish, measures, stops it. */
export async function bootAndMeasure(label: string, env: Record<string, string>, runtimeDir: string): Promise<BootMemory> {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const started = performance.now()
  const spawnedAt = Date.now()
  const child = spawn(process.execPath, [...startCommand(), 'serve'], {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', LOG_FILE: '', ADMIN_TOKEN, METRICS_TOKEN, RUNTIME_FILE: path.join(runtimeDir, `${label.replace(/\W+/g, '-')}.json`), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  try {
    let readyMs: number | undefined
    let run: { keys: number; durationMs: number; finishedAt: string } | undefined
    while (!run) {
      if (child.exitCode !== null) throw new Error(`${label}: the server exited with code ${child.exitCode}`)
      if (performance.now() - started > BOOT_TIMEOUT_MS) throw new Error(`${label}: no finished boot warmup within ${BOOT_TIMEOUT_MS} ms`)
      await sleep(100)
      if (readyMs === undefined && (await get(`${base}/health/ready`)).status === 200) readyMs = performance.now() - started
      if (readyMs === undefined) continue
      const runs = await get(`${base}/api/scheduler/runs?pageSize=5`, ADMIN_TOKEN)
      if (runs.status !== 200) continue
      const items = (JSON.parse(runs.text) as { items: { trigger: string; keys: number; durationMs: number | null; startedAt: string; finishedAt: string | null }[] }).items
      // This deployment's boot run: the schema may hold an earlier one's.
      const boot = items.find((item) => item.trigger === 'boot' && item.finishedAt !== null && Date.parse(item.startedAt) >= spawnedAt - 1000)
      if (boot) run = { keys: boot.keys, durationMs: boot.durationMs ?? Number.NaN, finishedAt: boot.finishedAt! }
    }
    const warmMs = performance.now() - started
    // A second for what the warmup left to settle (bus messages, the last writes).
    await sleep(1000)
    const pids = [child.pid!, ...await childrenOf(child.pid!)]
    const perProcess = await Promise.all(pids.map(rssKb))
    const result: BootMemory = {
      label,
      database: env.DATABASE_URL ? 'postgres' : 'pglite',
      processes: pids.length,
      readyMs: readyMs ?? Number.NaN,
      bootWarmupMs: run.durationMs,
      bootWarmupKeys: run.keys,
      warmMs,
      rssMb: perProcess.reduce((sum, kb) => sum + kb, 0) / 1024,
      rssMbPerProcess: perProcess.map((kb) => kb / 1024),
    }
    if (pids.length === 1) {
      const metrics = await get(`${base}/metrics`, METRICS_TOKEN)
      const mb = (name: string): number | undefined => {
        const value = metric(metrics.text, name)
        return value === undefined ? undefined : value / 1024 / 1024
      }
      const heapUsedMb = mb('nodejs_heap_size_used_bytes')
      const heapTotalMb = mb('nodejs_heap_size_total_bytes')
      const externalMb = mb('nodejs_external_memory_bytes')
      if (heapUsedMb !== undefined) result.heapUsedMb = heapUsedMb
      if (heapTotalMb !== undefined) result.heapTotalMb = heapTotalMb
      if (externalMb !== undefined) result.externalMb = externalMb
    }
    return result
  } finally {
    await stopProcess(child)
  }
}

/**
 * PGlite (a first start that imports the bundled data, then the measured second start), and
 * PostgreSQL + Redis with one process and with two workers, each from an empty Redis prefix.
 */
export async function measureBootMemory(env: BenchEnvironment, schema: string, log: (line: string) => void): Promise<BootMemory[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-boot-'))
  const results: BootMemory[] = []
  const show = (result: BootMemory): void => {
    results.push(result)
    log(`  ${result.label.padEnd(36)} ready ${(result.readyMs / 1000).toFixed(1)} s, boot warmup ${result.bootWarmupKeys} keys in ${(result.bootWarmupMs / 1000).toFixed(1)} s, RSS ${result.rssMb.toFixed(0)} MB${result.processes > 1 ? ` (${result.rssMbPerProcess.map((mb) => mb.toFixed(0)).join(' + ')})` : ''}${result.heapUsedMb !== undefined ? `, heap used ${result.heapUsedMb.toFixed(0)} MB of ${result.heapTotalMb?.toFixed(0)} MB, external ${result.externalMb?.toFixed(0)} MB` : ''}`)
  }
  try {
    const pglite = { PGLITE_DIR: path.join(dir, 'pglite'), SCHEDULER: 'local' }
    show(await bootAndMeasure('PGlite, first start (imports)', pglite, dir))
    show(await bootAndMeasure('PGlite, one process', pglite, dir))
    const postgres = (suffix: string, workers: number): Record<string, string> => ({
      DATABASE_URL: env.options.databaseUrl,
      DATABASE_SCHEMA: schema,
      REDIS_URL: env.options.redisUrl,
      REDIS_PREFIX: env.redisPrefix(suffix),
      AUTO_IMPORT: 'false',
      WORKERS: String(workers),
    })
    show(await bootAndMeasure('PostgreSQL + Redis, one process', postgres('boot1', 1), dir))
    show(await bootAndMeasure('PostgreSQL + Redis, --workers 2', postgres('boot2', 2), dir))
    return results
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
