import path from 'node:path'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { openRuntime } from '../runtime.ts'
import { bundledSourceFiles } from '../schools/import/schools-import.ts'
import { table, type Output } from './output.ts'

export async function importCommand(command: 'import' | 'import-banding' | 'import-windows', config: Config, logger: Logger, flags: { file?: string; nets?: string; profiles?: string; json?: boolean }, out: Output): Promise<number> {
  if (command !== 'import' && !flags.file) {
    out.error(`schools ${command}: --file is required`)
    return 2
  }
  const runtime = await openRuntime({ config, logger, role: 'cli', schedule: false, defaultMetrics: false })
  try {
    if (command === 'import') {
      const bundled = bundledSourceFiles(config.sourceDir)
      const files = {
        schools: flags.file ? path.resolve(flags.file) : bundled.schools,
        nets: flags.nets ? path.resolve(flags.nets) : bundled.nets,
        profiles: flags.profiles ? path.resolve(flags.profiles) : bundled.profiles,
      }
      const summary = await runtime.importSchools(files)
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
    const file = path.resolve(flags.file!)
    const summary = command === 'import-banding' ? await runtime.importBanding(file) : await runtime.importApplicationWindows(file)
    if (flags.json) {
      out.line(JSON.stringify(summary, null, 2))
      return 0
    }
    out.line(summary.unchanged ? 'Nothing changed.' : `Imported ${summary.entries} entries for ${summary.schools} schools; ${summary.changedSchoolNos.length} changed.`)
    if (!summary.unchanged) out.line(`changed: ${summary.changedSchoolNos.join(', ')}`)
    for (const miss of summary.unmatched) out.line(`unmatched${miss.line ? `, line ${miss.line}` : ''}: ${miss.name} (${miss.reason})`)
    for (const skip of summary.skipped) out.line(`skipped${skip.line ? `, line ${skip.line}` : ''}: ${skip.name} (${skip.reason})`)
    return 0
  } finally {
    await runtime.close()
  }
}
