import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { IMPORT_MAX_BODY_BYTES } from '../admin/operator-routes.ts'
import type { Config } from '../config.ts'
import { ImportFileError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { openRuntime } from '../runtime.ts'
import type { OverlayImportSummary } from '../schools/import/overlay-import.ts'
import { bundledSourceFiles, type SchoolImportSummary } from '../schools/import/schools-import.ts'
import type { AdminClient } from './admin-client.ts'
import { table, type Output } from './output.ts'
import { describeTarget, findTarget } from './server-target.ts'

export type ImportCommandName = 'import' | 'import-banding' | 'import-windows'
export interface ImportFlags { file?: string; nets?: string; profiles?: string; json?: boolean; url?: string }

/** Largest file the CLI uploads: three of them, base64-encoded, must fit the server's body limit. */
const MAX_FILE_BYTES = Math.floor((IMPORT_MAX_BODY_BYTES * 3) / 4 / 3) - 1024

export async function importCommand(command: ImportCommandName, config: Config, logger: Logger, flags: ImportFlags, out: Output): Promise<number> {
  if (command !== 'import' && !flags.file) {
    out.error(`schools ${command}: --file is required`)
    return 2
  }
  const target = await findTarget(config, flags, out)
  if (!flags.json) out.error(describeTarget(target))
  if (target.mode === 'server') {
    const summary = await remoteImport(target.client, command, flags)
    return command === 'import' ? printSchools(summary as SchoolImportSummary, flags, out) : printOverlay(summary as OverlayImportSummary, flags, out)
  }
  const runtime = await openRuntime({ config, logger, role: 'cli', schedule: false, defaultMetrics: false })
  try {
    if (command === 'import') {
      const bundled = bundledSourceFiles(config.sourceDir)
      const summary = await runtime.importSchools({
        schools: flags.file ? path.resolve(flags.file) : bundled.schools,
        nets: flags.nets ? path.resolve(flags.nets) : bundled.nets,
        profiles: flags.profiles ? path.resolve(flags.profiles) : bundled.profiles,
      })
      logger.info({ import: 'schools', unchanged: summary.unchanged, inserted: summary.inserted, updated: summary.updated, deleted: summary.deleted }, `import finished: schools (CLI), ${summary.changedSchoolNos.length} schools changed`)
      return printSchools(summary, flags, out)
    }
    const file = path.resolve(flags.file!)
    const kind = command === 'import-banding' ? 'banding' : 'windows'
    const summary = kind === 'banding' ? await runtime.importBanding(file) : await runtime.importApplicationWindows(file)
    logger.info({ import: kind, unchanged: summary.unchanged, entries: summary.entries, changed: summary.changedSchoolNos.length }, `import finished: ${kind} (CLI), ${summary.changedSchoolNos.length} schools changed`)
    if (!config.redisUrl && !summary.unchanged && !flags.json) out.line('The cache lives in the server process: it serves the new data once started.')
    return printOverlay(summary, flags, out)
  } finally {
    await runtime.close()
  }
}

async function upload(file: string): Promise<{ fileName: string; contentBase64: string }> {
  const resolved = path.resolve(file)
  const size = await stat(resolved).then((info) => info.size, (error: NodeJS.ErrnoException) => {
    throw new ImportFileError(resolved, undefined, undefined, `cannot be read: ${error.code ?? error.message}`, { cause: error })
  })
  if (size > MAX_FILE_BYTES) throw new ImportFileError(resolved, undefined, undefined, `is ${size} bytes; the server takes files of at most ${MAX_FILE_BYTES} bytes`)
  return { fileName: path.basename(resolved), contentBase64: (await readFile(resolved)).toString('base64') }
}

async function remoteImport(client: AdminClient, command: ImportCommandName, flags: ImportFlags): Promise<SchoolImportSummary | OverlayImportSummary> {
  if (command === 'import') {
    // Files not given are the server's own bundled ones.
    const body: Record<string, unknown> = {}
    if (flags.file) body.schools = await upload(flags.file)
    if (flags.nets) body.nets = await upload(flags.nets)
    if (flags.profiles) body.profiles = await upload(flags.profiles)
    return client.request<SchoolImportSummary>('POST', '/api/admin/import/schools', body)
  }
  return client.request<OverlayImportSummary>('POST', `/api/admin/import/${command === 'import-banding' ? 'banding' : 'windows'}`, { file: await upload(flags.file!) })
}

function printSchools(summary: SchoolImportSummary, flags: ImportFlags, out: Output): number {
  if (flags.json) {
    out.line(JSON.stringify(summary, null, 2))
    return 0
  }
  out.line(summary.unchanged ? 'Nothing changed: the database already holds these files.' : 'Imported.')
  out.line(table([
    ['rows', 'primary', summary.rows.primary],
    ['', 'secondary', summary.rows.secondary],
    ['', 'skipped (other levels)', Object.values(summary.skippedByLevel).reduce((sum, count) => sum + count, 0)],
    ['changes', 'inserted', summary.inserted],
    ['', 'updated', summary.updated],
    ['', 'deleted', summary.deleted],
    ['school nets', '', summary.nets],
    ['profiles', 'matched', `${summary.profiles.matched}/${summary.profiles.total}`],
    ['', 'exact / folded / alias', `${summary.profiles.exact} / ${summary.profiles.folded} / ${summary.profiles.alias}`],
  ]))
  for (const miss of summary.profiles.unmatched) out.line(`unmatched profile, line ${miss.line}: ${miss.nameZh} (${miss.reason})`)
  return 0
}

function printOverlay(summary: OverlayImportSummary, flags: ImportFlags, out: Output): number {
  if (flags.json) {
    out.line(JSON.stringify(summary, null, 2))
    return 0
  }
  out.line(summary.unchanged ? 'Nothing changed.' : `Imported ${summary.entries} entries for ${summary.schools} schools; ${summary.changedSchoolNos.length} changed.`)
  if (!summary.unchanged) out.line(`changed: ${summary.changedSchoolNos.join(', ')}`)
  for (const miss of summary.unmatched) out.line(`unmatched${miss.line ? `, line ${miss.line}` : ''}: ${miss.name} (${miss.reason})`)
  for (const skip of summary.skipped) out.line(`skipped${skip.line ? `, line ${skip.line}` : ''}: ${skip.name} (${skip.reason})`)
  return 0
}
