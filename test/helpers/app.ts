// Builds the real application (runtime + Fastify) around a test database and, optionally,
// a test Redis prefix; everything it opens is closed and dropped by `close()`.
import { after, before, describe } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { loadConfig, type Config } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { openRuntime, type Runtime } from '../../src/runtime.ts'
import { buildServer } from '../../src/server.ts'
import { availableBackends, createTestDatabase, IN_MEMORY, pgliteConfig, type DatabaseBackend, type TestDatabase } from './database.ts'
import { testRedisUrl, uniqueName } from './env.ts'

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789'

export interface TestApp {
  app: FastifyInstance
  runtime: Runtime
  config: Config
  database: TestDatabase
  close(): Promise<void>
}

export interface TestAppOptions {
  backend?: DatabaseBackend
  redis?: boolean
  env?: Record<string, string>
  /** Reuse a database (another instance, a restart); it is then not dropped by close(). */
  database?: TestDatabase
}

export function testConfig(database: Pick<TestDatabase, 'config'>, options: { redis?: boolean; env?: Record<string, string>; prefix?: string } = {}): Config {
  return loadConfig({
    LOG_LEVEL: 'silent',
    LOG_FILE: '',
    SCHEDULER: 'off',
    WARMUP_ON_BOOT: 'false',
    // Only config/warm-targets.json's lists, so the warm groups stay small and countable; the
    // lists derived from the data are tested in test/schools/warm-targets.test.ts.
    WARM_LIST_MAX_FILTERS: '0',
    // Counting and learning from the tests' own requests would add statements to query counts and
    // change what 'all' warms; test/traffic turns them on.
    REQUEST_STATS: 'false',
    WARM_LEARNED: 'false',
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    DATABASE_URL: database.config.databaseUrl ?? '',
    DATABASE_SCHEMA: database.config.databaseSchema,
    PGLITE_DIR: database.config.pgliteDir,
    DATABASE_TIMEOUT_MS: String(database.config.databaseTimeoutMs),
    REDIS_URL: options.redis ? testRedisUrl ?? '' : '',
    REDIS_PREFIX: options.prefix ?? uniqueName('test'),
    // No background SCAN of the test's keys: a test that wants the Redis count asks for it (cache.sampleKeyCount()).
    CACHE_KEY_COUNT_SECONDS: '0',
    ...options.env,
  })
}

export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  if (options.redis && !testRedisUrl) throw new Error('createTestApp({ redis: true }) needs TEST_REDIS_URL')
  // An in-memory PGlite cannot be opened a second time: the runtime opens one of its own, so a test
  // database opened here would be another PGlite, started and migrated for nothing. The app's is the runtime's.
  const inMemory = !options.database && (options.backend ?? 'pglite') === 'pglite'
  const opened = options.database ?? (inMemory ? undefined : await createTestDatabase(options.backend ?? 'pglite'))
  const config = testConfig(opened ?? { config: pgliteConfig(IN_MEMORY) }, options)
  const logger = createLogger(config)
  const runtime = await openRuntime({ config, logger, schedule: config.scheduler !== 'off', defaultMetrics: false })
  // runtime.close() closes it.
  const database: TestDatabase = opened ?? { db: runtime.db, backend: 'pglite', config: pgliteConfig(IN_MEMORY), drop: async () => {} }
  const app = await buildServer(runtime, TEST_ADMIN_TOKEN)
  await app.ready()
  return {
    app,
    runtime,
    config,
    database,
    close: async () => {
      await app.close()
      await runtime.close()
      if (!options.database) await database.drop()
    },
  }
}

/** Registers the suite once per database backend, each with its own app on freshly imported data. */
export function describeEachBackendApp(title: string, suite: (getApp: () => TestApp, backend: DatabaseBackend) => void, options: Omit<TestAppOptions, 'backend'> = {}): void {
  for (const backend of availableBackends()) {
    describe(`${title} [${backend}]`, () => {
      let current: TestApp | undefined
      before(async () => {
        current = await createTestApp({ ...options, backend })
      })
      after(async () => {
        await current?.close()
      })
      suite(() => {
        if (!current) throw new Error('test app not ready')
        return current
      }, backend)
    })
  }
}
