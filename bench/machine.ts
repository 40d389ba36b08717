// What the bench ran on, recorded with every result: figures from a shared 2-core VM and a
// quiet workstation are not comparable, and the load average says how quiet it was.
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { Redis } from 'ioredis'
import { PostgresDatabase } from '../src/db/postgres.ts'

export interface MachineInfo {
  cpuModel: string
  cpus: number
  memoryGb: number
  os: string
  node: string
  postgres: string
  redis: string
  commit: string
  loadAverageStart: number[]
  loadAverageEnd: number[]
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim() !== ''
    return dirty ? `${head} (with uncommitted changes)` : head
  } catch {
    return 'unknown'
  }
}

export async function describeMachine(databaseUrl: string, redisUrl: string): Promise<MachineInfo> {
  const db = new PostgresDatabase({ url: databaseUrl, schema: 'public', timeoutMs: 5000, maxConnections: 1 })
  const postgres = await db.query<{ version: string }>("SELECT current_setting('server_version') AS version").then((rows) => `PostgreSQL ${rows[0]?.version ?? '?'}`, () => 'PostgreSQL ?').finally(() => db.close())
  const redisClient = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  redisClient.on('error', () => {})
  const redis = await redisClient.connect().then(() => redisClient.info('server')).then((info) => /redis_version:(\S+)/.exec(info)?.[1] ?? '?', () => '?').finally(() => redisClient.disconnect())
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
    cpus: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
    postgres,
    redis,
    commit: gitCommit(),
    loadAverageStart: os.loadavg(),
    loadAverageEnd: [],
  }
}
