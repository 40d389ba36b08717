// What a server tells its operator at start: the runtime file for the CLI (see runtime-file.ts)
// and, when ADMIN_TOKEN is unset, where the generated token can be read. The token itself goes
// to the terminal (stderr, only when it is one) and to the owner-only runtime file, never to a
// log line.
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { deploymentOf, removeRuntimeFile, settingsOf, writeRuntimeFile } from './runtime-file.ts'

export interface Announced {
  /** The runtime file written, if any. */
  file: string | undefined
  remove(): void
}

export function publishRuntimeFile(options: { config: Config; logger: Logger; address: string; adminToken: string; publish: boolean; terminal?: NodeJS.WriteStream }): Announced {
  const { config, logger, address, adminToken } = options
  const terminal = options.terminal ?? process.stderr
  // An in-memory database cannot be shared with another process, so no CLI could use the file.
  const shareable = options.publish && Boolean(config.databaseUrl || config.pgliteDir !== 'memory://')
  let file: string | undefined
  if (shareable) {
    try {
      writeRuntimeFile(config.runtimeFile, { pid: process.pid, url: address, adminToken, startedAt: new Date().toISOString(), deployment: deploymentOf(config), settings: settingsOf(config) })
      file = config.runtimeFile
      logger.info({ runtimeFile: file }, `runtime file ${file} written (mode 0600): the schools CLI on this machine sends its commands to this server`)
    } catch (error) {
      logger.warn({ err: error, runtimeFile: config.runtimeFile }, `could not write the runtime file ${config.runtimeFile}: the CLI needs --url and ADMIN_TOKEN to reach this server`)
    }
  }
  if (!config.adminToken) {
    const where: string[] = []
    if (terminal.isTTY) {
      terminal.write(`\nAdmin token for this run (ADMIN_TOKEN is not set): ${adminToken}\n\n`)
      where.push('printed on the terminal')
    }
    if (file) where.push(`in ${file} (readable by its owner only)`)
    logger.warn(where.length > 0
      ? `ADMIN_TOKEN is not set; a token was generated for this run, ${where.join(' and ')}. Set ADMIN_TOKEN to choose your own`
      : 'ADMIN_TOKEN is not set; a token was generated for this run but neither a terminal nor a runtime file can show it: set ADMIN_TOKEN to use the admin API')
  }
  return { file, remove: () => file && removeRuntimeFile(file) }
}
