// Where the CLI's operator commands go. A running server of the same deployment takes them
// through its admin API, so they act on what users are served: found through --url /
// SCHOOLS_URL (with ADMIN_TOKEN), or without configuration through the runtime file the server
// writes beside its data. With no server the CLI works on the database and cache directly (on
// the embedded database under its lock).
import type { Config } from '../config.ts'
import { ConfigError, ServerRequestError } from '../errors.ts'
import { processAlive } from '../db/directory-lock.ts'
import { deploymentOf, readRuntimeFile, type ServerSettings } from '../operations/runtime-file.ts'
import { adminClient, answers, type AdminClient } from './admin-client.ts'
import type { Output } from './output.ts'

export type CommandTarget =
  | { mode: 'server'; client: AdminClient; via: string; pid?: number; settings?: ServerSettings }
  | { mode: 'direct' }

// Generous: a busy server on a loaded machine (an import, a warmup) still counts as running.
const ANSWER_TIMEOUT_MS = 20_000

export async function findTarget(config: Config, flags: { url?: string | undefined }, out: Output): Promise<CommandTarget> {
  const explicit = flags.url ?? config.serverUrl
  if (explicit) {
    let parsed: URL
    try {
      parsed = new URL(explicit)
    } catch {
      throw new ConfigError('--url', `is not a valid URL: '${explicit}'`)
    }
    const fromFile = readRuntimeFile(config.runtimeFile)
    const token = config.adminToken ?? (fromFile && new URL(fromFile.url).origin === parsed.origin ? fromFile.adminToken : undefined)
    if (!token) throw new ConfigError('ADMIN_TOKEN', `is needed to send commands to ${parsed.origin} (the server's token)`)
    if (!(await answers(parsed.origin, ANSWER_TIMEOUT_MS))) throw new ServerRequestError(`the server at ${parsed.origin} does not answer; is it running?`, parsed.origin)
    return { mode: 'server', client: adminClient(parsed.origin, token), via: flags.url ? '--url' : 'SCHOOLS_URL' }
  }
  const file = readRuntimeFile(config.runtimeFile)
  if (!file) return { mode: 'direct' }
  if (file.deployment !== deploymentOf(config)) {
    out.error(`note: ${config.runtimeFile} is a server of another deployment (${file.deployment}); working directly`)
    return { mode: 'direct' }
  }
  if (!processAlive(file.pid)) {
    out.error(`note: stale runtime file ${config.runtimeFile} (server pid ${file.pid} is gone); working directly`)
    return { mode: 'direct' }
  }
  if (!(await answers(file.url, ANSWER_TIMEOUT_MS))) {
    throw new ServerRequestError(`the server (pid ${file.pid}) named in ${config.runtimeFile} does not answer at ${file.url}; wait for it to finish starting, or stop it`, file.url)
  }
  return { mode: 'server', client: adminClient(file.url, file.adminToken), via: config.runtimeFile, pid: file.pid, settings: file.settings }
}

export function describeTarget(target: CommandTarget): string {
  if (target.mode === 'direct') return 'no server running: working on the database directly'
  return `sending to the server at ${target.client.url}${target.pid ? ` (pid ${target.pid})` : ''}, found through ${target.via}`
}
