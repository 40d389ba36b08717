// One deployment for several server processes: a PostgreSQL schema of its own, migrated and
// loaded with the bundled data here (so instances can start side by side without racing to
// import), a Redis prefix of its own, and the environment every process of it shares.
// close() drops the schema and deletes every Redis key under the prefix (cache and BullMQ).
import path from 'node:path'
import { Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import { PROJECT_ROOT } from '../../src/config.ts'
import type { Database } from '../../src/db/database.ts'
import { bundledSourceFiles, importSchools } from '../../src/schools/import/schools-import.ts'
import { createTestDatabase, type TestDatabase } from './database.ts'
import { testRedisUrl, uniqueName } from './env.ts'
import { NodeProcess, type SpawnOptions } from './process-server.ts'
import { deleteKeysUnder, rawRedis, sparePort } from './redis.ts'

export const SCALE_ADMIN_TOKEN = 'scale-admin-token-0123456789'

export interface SharedDeployment {
  /** A connection to the deployment's schema, to look at what the servers wrote (warmup_runs) or change data. */
  db: Database
  schema: string
  redisPrefix: string
  redis: Redis
  /** The environment all processes of the deployment share; add PORT, INSTANCE_ID, SCHEDULE... per process. */
  env: Record<string, string>
  /** The BullMQ queue the servers use (opened on first call, closed by close()). */
  queue(): Queue
  /** Spawns a process of this deployment on a spare port; close() kills it if still running. */
  spawn(options: Omit<SpawnOptions, 'port' | 'env'> & { env?: Record<string, string> }): Promise<NodeProcess>
  /** spawn() of the server (src/server.ts) as instance `id`: its INSTANCE_ID and label `instance <id>`. */
  spawnServer(id: string, env?: Record<string, string>, label?: string): Promise<NodeProcess>
  close(): Promise<void>
}

export const adminHeaders = { authorization: `Bearer ${SCALE_ADMIN_TOKEN}` }

/**
 * The processes use the test run's PostgreSQL and Redis, or `processDatabaseUrl` /
 * `processRedisUrl`: the same servers reached another way (a fault proxy a test can cut or
 * hold). The test itself always talks to the servers directly.
 */
export async function sharedDeployment(name: string, options: { processDatabaseUrl?: string; processRedisUrl?: string } = {}): Promise<SharedDeployment> {
  const redisUrl = testRedisUrl
  if (!redisUrl) throw new Error('sharedDeployment needs TEST_REDIS_URL')
  const database: TestDatabase = await createTestDatabase('postgres', { timeoutMs: 10_000 })
  const schema = database.config.databaseSchema
  const redisPrefix = uniqueName(`scale_${name}`)
  const redis = rawRedis(redisUrl)
  const processes: NodeProcess[] = []
  let queue: Queue | undefined
  const close = async (): Promise<void> => {
    for (const child of processes) child.kill()
    await Promise.all(processes.map((child) => child.exited))
    await queue?.close()
    await deleteKeysUnder(redis, redisPrefix)
    redis.disconnect()
    await database.drop()
  }
  try {
    await importSchools(database.db, bundledSourceFiles(path.join(PROJECT_ROOT, 'data', 'source')))
  } catch (error) {
    await close()
    throw error
  }
  const env: Record<string, string> = {
    LOG_LEVEL: 'info',
    LOG_FILE: '',
    DATABASE_URL: options.processDatabaseUrl ?? database.config.databaseUrl!,
    DATABASE_SCHEMA: schema,
    REDIS_URL: options.processRedisUrl ?? redisUrl,
    REDIS_PREFIX: redisPrefix,
    ADMIN_TOKEN: SCALE_ADMIN_TOKEN,
    WARMUP_ON_BOOT: 'false',
    AUTO_IMPORT: 'false',
    // Only config/warm-targets.json's lists (as in test/helpers/app.ts): 'all' and every clear-and-warmup
    // then warm tens of keys, not ~1,400 derived lists, which cost the processes CPU the tests do not
    // measure (the derived lists have test/integration/warm-derived-lists.test.ts). A test may set it.
    WARM_LIST_MAX_FILTERS: '0',
  }
  const spawn: SharedDeployment['spawn'] = async (options) => {
    const child = NodeProcess.spawn({ ...options, port: await sparePort(), env: { ...env, ...options.env } })
    processes.push(child)
    return child
  }
  return {
    db: database.db,
    schema,
    redisPrefix,
    redis,
    env,
    queue: () => {
      queue ??= new Queue('warmup', { connection: { url: redisUrl }, prefix: `${redisPrefix}:bull` })
      return queue
    },
    spawn,
    spawnServer: (id, serverEnv = {}, label = `instance ${id}`) => spawn({ label, entry: 'src/server.ts', env: { INSTANCE_ID: id, ...serverEnv } }),
    close,
  }
}

/** Percentile by nearest rank (p in 0..100) of numbers already measured. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}
