#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` builds): compiles src/ to dist/ with tsc, then copies
// every file under src/ that is not TypeScript (the SQL migrations, for one) to the same place in
// dist/, so the compiled code finds them beside itself exactly as the sources do under tsx.
// dist/ is emptied first: a source file removed or renamed leaves nothing stale behind.
import { spawnSync } from 'node:child_process'
import { cpSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
const dist = path.join(root, 'dist')
rmSync(dist, { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' })
if (result.status !== 0) process.exit(result.status ?? 1)
cpSync(path.join(root, 'src'), dist, { recursive: true, filter: (source) => !source.endsWith('.ts') })
