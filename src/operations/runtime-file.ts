// The runtime file: how a CLI on the same machine finds the running server without
// configuration. The server writes its URL, pid and admin token there once it listens (mode
// 0600: only its owner can read the token) and removes it on a clean shutdown. A file left by
// a process that is gone is stale and ignored. It names the deployment it serves, so a CLI
// configured for another database or Redis prefix never talks to this server.
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.ts'

export interface RuntimeFileContent {
  pid: number
  url: string
  adminToken: string
  startedAt: string
  /** See deploymentOf. */
  deployment: string
  /** The settings that apply to warmups this server runs (the CLI shows them). */
  settings: ServerSettings
}

export interface ServerSettings {
  warmupConcurrency: number
  warmListMaxFilters: number
  warmListPages: number
  scheduler: Config['scheduler']
}

export function settingsOf(config: Config): ServerSettings {
  return { warmupConcurrency: config.warmupConcurrency, warmListMaxFilters: config.warmListMaxFilters, warmListPages: config.warmListPages, scheduler: config.scheduler }
}

/** Which data a process serves: its database (without credentials) and schema, and its Redis prefix. */
export function deploymentOf(config: Pick<Config, 'databaseUrl' | 'pgliteDir' | 'databaseSchema' | 'redisUrl' | 'redisPrefix'>): string {
  let database = `pglite:${path.resolve(config.pgliteDir)}`
  if (config.databaseUrl) {
    const parsed = new URL(config.databaseUrl)
    database = `postgres://${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`
  }
  const redis = config.redisUrl ? (() => {
    const parsed = new URL(config.redisUrl)
    return `redis://${parsed.hostname}:${parsed.port || '6379'}${parsed.pathname}`
  })() : 'none'
  return `${database}#${config.databaseSchema} ${redis}#${config.redisPrefix}`
}

export function writeRuntimeFile(file: string, content: RuntimeFileContent): void {
  mkdirSync(path.dirname(file), { recursive: true })
  // Written whole under another name, then renamed: a reader never sees half a file.
  const temporary = `${file}.${process.pid}.tmp`
  writeFileSync(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 })
  renameSync(temporary, file)
}

/** Removes the file if it is still this process's (a later server may have replaced it). */
export function removeRuntimeFile(file: string, pid = process.pid): void {
  if (readRuntimeFile(file)?.pid !== pid) return
  try {
    unlinkSync(file)
  } catch {
    // already gone
  }
}

export function readRuntimeFile(file: string): RuntimeFileContent | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RuntimeFileContent>
    if (typeof parsed.pid !== 'number' || typeof parsed.url !== 'string' || typeof parsed.adminToken !== 'string') return undefined
    return parsed as RuntimeFileContent
  } catch {
    return undefined
  }
}
