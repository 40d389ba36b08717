// The schema in src/config.ts is the list of variables; .env.example and the README's Configuration
// table are written by hand for people, so these checks keep them complete and true: every variable
// of the schema appears in both, nothing else does, and the example's values are the defaults.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { parseEnv } from 'node:util'
import { ENV_SCHEMA, loadConfig, PROJECT_ROOT } from '../src/config.ts'

const variables = Object.keys(ENV_SCHEMA.properties).sort()
const example = readFileSync(path.join(PROJECT_ROOT, '.env.example'), 'utf8')

test('.env.example names every variable of the schema, and only those', () => {
  // `NAME=value`, or `# NAME=...` for one without a default worth writing down.
  const named = [...example.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1])
  assert.deepEqual([...new Set(named)].sort(), variables)
})

test(".env.example's values are the defaults (but paths, which it writes relative)", () => {
  const paths = { logFile: undefined, pgliteDir: undefined, runtimeFile: undefined }
  assert.deepEqual({ ...loadConfig(parseEnv(example)), ...paths }, { ...loadConfig({}), ...paths })
})

test("the README's Configuration table documents every variable of the schema, and only those", () => {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Configuration\n')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  const firstCells = section.split('\n').filter((line) => line.startsWith('| `')).map((line) => line.split('|')[1] ?? '')
  const documented = firstCells.flatMap((cell) => [...cell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((match) => match[1]))
  assert.deepEqual([...new Set(documented)].sort(), variables)
})
