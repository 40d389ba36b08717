// Facts computed straight from the bundled source files, independently of the importer, so
// tests compare the API against the files and not against the code under test.
import { readFileSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { PROJECT_ROOT } from '../../src/config.ts'

export const SOURCE_DIR = path.join(PROJECT_ROOT, 'data', 'source')
export const EDB_FILE = path.join(SOURCE_DIR, 'edb', 'SCH_LOC_EDB.csv')
export const NETS_FILE = path.join(SOURCE_DIR, 'edb', 'POA_SchoolNet_TC.csv')
export const PROFILES_FILE = path.join(SOURCE_DIR, 'chsc', 'PSP_2025_tc.csv')
export const BANDING_FIXTURE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'unofficial-banding.json')

/** The EDB file as text lines (UTF-16LE with BOM, CRLF). */
export function edbLines(): string[] {
  const text = readFileSync(EDB_FILE).subarray(2).toString('utf16le')
  return text.split('\r\n').filter((line) => line !== '')
}

/**
 * The EDB rows as field arrays, split by a regex that honours quoted fields: deliberately a
 * different technique from the importer's character scanner.
 */
export function edbRows(): Record<string, string>[] {
  const [header, ...lines] = edbLines()
  const split = (line: string): string[] => [...line.matchAll(/("([^"]|"")*"|[^,]*)(,|$)/g)].map((match) => match[1]!.replace(/^"|"$/g, '').replace(/""/g, '"')).slice(0, -1)
  const names = split(header!)
  return lines.map((line) => {
    const fields = split(line)
    return Object.fromEntries(names.map((name, index) => [name, fields[index] ?? '']))
  })
}

/** Copies the bundled sources to a temp dir, letting a test corrupt one of them. */
export async function sourceCopy(edit?: { file: 'schools' | 'nets' | 'profiles'; transform: (text: string) => string }): Promise<{ schools: string; nets: string; profiles: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'schools-src-'))
  const files = { schools: path.join(dir, 'SCH_LOC_EDB.csv'), nets: path.join(dir, 'POA_SchoolNet_TC.csv'), profiles: path.join(dir, 'PSP_2025_tc.csv') }
  const originals = { schools: EDB_FILE, nets: NETS_FILE, profiles: PROFILES_FILE }
  for (const key of ['schools', 'nets', 'profiles'] as const) {
    let bytes = readFileSync(originals[key])
    if (edit?.file === key) {
      if (key === 'schools') {
        const text = edit.transform(bytes.subarray(2).toString('utf16le'))
        bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])
      } else {
        bytes = Buffer.from(edit.transform(bytes.toString('utf8')), 'utf8')
      }
    }
    await writeFile(files[key], bytes)
  }
  return files
}
