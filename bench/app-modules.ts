// The application modules the bench's server children run: the compiled dist/ that `npm start`
// runs (`npm run bench` builds it first), so what is measured is what is deployed. Under tsx,
// esbuild names every function it creates (`__name`, a call per closure per request), which
// the compiled code does not do. BENCH_APP=src runs the sources instead (no build needed).
import type * as CacheEntryModule from '../src/cache/cache-entry.ts'
import type * as ConfigModule from '../src/config.ts'
import type * as ConnectModule from '../src/db/connect.ts'
import type * as LoggerModule from '../src/logger.ts'
import type * as RuntimeModule from '../src/runtime.ts'
import type * as ReadsModule from '../src/schools/reads.ts'
import type * as RepositoryModule from '../src/schools/repository.ts'
import type * as ServerModule from '../src/server.ts'

export type AppSource = 'dist' | 'src'

export function appSource(env: Record<string, string | undefined> = process.env): AppSource {
  return env.BENCH_APP === 'src' ? 'src' : 'dist'
}

function load<T>(source: AppSource, name: string): Promise<T> {
  const file = source === 'src' ? `../src/${name}.ts` : `../dist/${name}.js`
  return import(new URL(file, import.meta.url).href) as Promise<T>
}

export async function appModules(source: AppSource = appSource()) {
  const [config, connect, logger, repository, cacheEntry, runtime, reads, server] = await Promise.all([
    load<typeof ConfigModule>(source, 'config'),
    load<typeof ConnectModule>(source, 'db/connect'),
    load<typeof LoggerModule>(source, 'logger'),
    load<typeof RepositoryModule>(source, 'schools/repository'),
    load<typeof CacheEntryModule>(source, 'cache/cache-entry'),
    load<typeof RuntimeModule>(source, 'runtime'),
    load<typeof ReadsModule>(source, 'schools/reads'),
    load<typeof ServerModule>(source, 'server'),
  ])
  return {
    loadConfig: config.loadConfig,
    openDatabase: connect.openDatabase,
    createLogger: logger.createLogger,
    SchoolRepository: repository.SchoolRepository,
    entryFromIdentity: cacheEntry.entryFromIdentity,
    openRuntime: runtime.openRuntime,
    SchoolReads: reads.SchoolReads,
    buildServer: server.buildServer,
    startServer: server.startServer,
  }
}
