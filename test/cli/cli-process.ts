// Runs the `schools` CLI as a child process (`node --import tsx src/cli/main.ts ...`), the way an
// operator does: its own environment, exit code, stdout and stderr. Children still running
// when the test process exits are killed.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PROJECT_ROOT } from '../../src/config.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { testDatabaseUrl, testRedisUrl, uniqueName } from '../helpers/env.ts'
import { deleteRedisPrefix } from '../helpers/integration.ts'
import { obliterateQueue } from '../helpers/warmup-fakes.ts'

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `schools <args>` with exactly `env` (plus PATH and HOME); fails after `timeoutMs`. */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'src', 'cli', 'main.ts'), ...args], {
    cwd: PROJECT_ROOT,
    // No log file in the checkout; warnings still reach stderr.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_FILE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  live.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  let timer: NodeJS.Timeout | undefined
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`schools ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`))
      }, timeoutMs)
      child.once('error', reject)
      // 'close', not 'exit': the output still in the pipes is read first.
      child.once('close', (exitCode) => resolve(exitCode))
    })
    return { code, stdout, stderr }
  } finally {
    clearTimeout(timer)
    live.delete(child)
  }
}

export const describeResult = (result: CliResult): string => `exit ${result.code}\nstdout: ${result.stdout.slice(-3000)}\nstderr: ${result.stderr.slice(-3000)}`

/** Where a CLI test's commands keep their data: the env they need and the cleanup. */
export interface CliTarget {
  kind: 'postgres' | 'pglite'
  redis: boolean
  env: Record<string, string>
  cleanup(): Promise<void>
}

/**
 * A fresh PostgreSQL schema and (when the run has Redis) a fresh Redis prefix, or on a machine
 * without PostgreSQL a PGlite directory. `redis: false` keeps Redis out even when available.
 */
export async function cliTarget(options: { redis?: boolean } = {}): Promise<CliTarget> {
  const redis = (options.redis ?? true) && testRedisUrl !== undefined
  const prefix = uniqueName('cli')
  // WARM_LIST_MAX_FILTERS=0: the warm groups are config/warm-targets.json's lists alone, so the
  // tests can count them (the derived lists have test/integration/warm-derived-lists.test.ts).
  const targetEnv: Record<string, string> = { WARM_LIST_MAX_FILTERS: '0', ...(redis ? { REDIS_URL: testRedisUrl!, REDIS_PREFIX: prefix } : { SCHEDULER: 'local' }) }
  const cleanRedis = async (): Promise<void> => {
    if (!redis) return
    await obliterateQueue(testRedisUrl!, `${prefix}:bull`).catch(() => {})
    await deleteRedisPrefix(prefix)
  }
  if (testDatabaseUrl) {
    const database: TestDatabase = await createTestDatabase('postgres')
    // The schema exists and is migrated; the CLI opens it itself.
    await database.db.close()
    return {
      kind: 'postgres',
      redis,
      env: { DATABASE_URL: testDatabaseUrl, DATABASE_SCHEMA: database.config.databaseSchema, ...targetEnv },
      cleanup: async () => {
        await database.drop()
        await cleanRedis()
      },
    }
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'schools-cli-'))
  return {
    kind: 'pglite',
    redis,
    env: { PGLITE_DIR: dir, ...targetEnv },
    cleanup: async () => {
      await rm(dir, { recursive: true, force: true })
      await cleanRedis()
    },
  }
}
