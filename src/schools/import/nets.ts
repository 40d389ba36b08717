import { ImportFileError } from '../../errors.ts'
import { parseCsv } from './csv.ts'

export interface SchoolNetRecord {
  net: string
  areaZh: string
  webpage: string | null
}

/** The EDB's Primary One Admission school net list. */
export function parseSchoolNets(text: string, file: string): SchoolNetRecord[] {
  const table = parseCsv(text, file, ['SCHOOLNET', 'AREA', 'WEBPAGE'])
  const seen = new Set<string>()
  const nets = table.records.map((record) => {
    const net = record.values.SCHOOLNET?.trim() ?? ''
    if (!/^\d{2}$/.test(net)) throw new ImportFileError(file, record.line, 'SCHOOLNET', `'${net}' is not a two-digit school net`)
    if (seen.has(net)) throw new ImportFileError(file, record.line, 'SCHOOLNET', `school net ${net} is listed twice`)
    seen.add(net)
    const areaZh = record.values.AREA?.trim() ?? ''
    if (areaZh === '') throw new ImportFileError(file, record.line, 'AREA', 'is empty')
    return { net, areaZh, webpage: record.values.WEBPAGE?.trim() || null }
  })
  if (nets.length === 0) throw new ImportFileError(file, undefined, undefined, 'lists no school nets')
  return nets
}
