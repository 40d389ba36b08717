// A small RFC 4180 reader that keeps the source line number of every record, so that an
// import error can name the line an operator has to fix. Handles quoted fields with commas,
// doubled quotes and line breaks, CRLF or LF endings, and a byte-order mark.
import { ImportFileError } from '../../errors.ts'

export interface CsvRecord {
  /** 1-based line on which the record starts (the header is line 1). */
  line: number
  values: Record<string, string>
}

export interface CsvTable {
  headers: string[]
  records: CsvRecord[]
}

/** Decodes a file's bytes by its byte-order mark: UTF-16LE (EDB) or UTF-8 (the rest). */
export function decodeText(bytes: Buffer, file: string): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le', { fatal: true }).decode(bytes.subarray(2))
  if (bytes[0] === 0xfe && bytes[1] === 0xff) throw new ImportFileError(file, undefined, undefined, 'UTF-16BE is not supported; save it as UTF-16LE or UTF-8')
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  } catch (error) {
    throw new ImportFileError(file, undefined, undefined, 'is neither UTF-16LE with a byte-order mark nor valid UTF-8', { cause: error })
  }
}

export function parseCsv(text: string, file: string, requiredHeaders: readonly string[]): CsvTable {
  const rows = splitRecords(text, file)
  const header = rows.shift()
  if (!header) throw new ImportFileError(file, 1, undefined, 'is empty')
  const headers = header.fields.map((name) => name.trim())
  const missing = requiredHeaders.filter((name) => !headers.includes(name))
  if (missing.length > 0) {
    throw new ImportFileError(file, 1, missing[0], `missing column(s): ${missing.join(', ')}; is this the right file?`)
  }
  const records: CsvRecord[] = []
  for (const row of rows) {
    if (row.fields.length === 1 && row.fields[0] === '') continue
    if (row.fields.length !== headers.length) {
      throw new ImportFileError(file, row.line, undefined, `has ${row.fields.length} fields, the header has ${headers.length}`)
    }
    const values: Record<string, string> = {}
    headers.forEach((name, index) => {
      values[name] = row.fields[index]!
    })
    records.push({ line: row.line, values })
  }
  return { headers, records }
}

function splitRecords(text: string, file: string): { line: number; fields: string[] }[] {
  const rows: { line: number; fields: string[] }[] = []
  let fields: string[] = []
  let field = ''
  let quoted = false
  let line = 1
  let recordLine = 1
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!
    if (quoted) {
      if (char === '"') {
        if (text[index + 1] === '"') {
          field += '"'
          index++
        } else {
          quoted = false
        }
      } else {
        if (char === '\n') line++
        field += char
      }
      continue
    }
    if (char === '"' && field === '') {
      quoted = true
    } else if (char === ',') {
      fields.push(field)
      field = ''
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[index + 1] === '\n') index++
      fields.push(field)
      rows.push({ line: recordLine, fields })
      fields = []
      field = ''
      line++
      recordLine = line
    } else {
      field += char
    }
  }
  if (quoted) throw new ImportFileError(file, recordLine, undefined, 'a quoted field is never closed')
  if (field !== '' || fields.length > 0) {
    fields.push(field)
    rows.push({ line: recordLine, fields })
  }
  return rows
}
