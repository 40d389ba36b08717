#!/usr/bin/env node
// Fails when modules under src/ import each other in a cycle. Part of `npm test`'s lint step:
// cycles make start-up order fragile and blur the layering (cache and warmup know nothing of schools).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'src')
const files = (function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    return statSync(full).isDirectory() ? walk(full) : full.endsWith('.ts') ? [full] : []
  })
})(root)

const graph = new Map(files.map((file) => {
  const source = readFileSync(file, 'utf8')
  // Type-only imports vanish at run time but still couple modules; count them too.
  const targets = [...source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)].map((match) => path.resolve(path.dirname(file), match[1]))
  return [file, targets]
}))

const state = new Map()
const cycles = []
function visit(file, trail) {
  if (state.get(file) === 'done') return
  if (state.get(file) === 'active') {
    cycles.push([...trail.slice(trail.indexOf(file)), file].map((entry) => path.relative(root, entry)).join(' -> '))
    return
  }
  state.set(file, 'active')
  for (const target of graph.get(file) ?? []) visit(target, [...trail, file])
  state.set(file, 'done')
}
for (const file of files) visit(file, [])

// The generic layers must not reach into the feature folders.
const layering = files.flatMap((file) => {
  const area = path.relative(root, file).split(path.sep)[0]
  if (area !== 'cache' && area !== 'warmup') return []
  return (graph.get(file) ?? []).filter((target) => path.relative(root, target).startsWith('schools')).map((target) => `${path.relative(root, file)} imports ${path.relative(root, target)}`)
})

if (cycles.length > 0 || layering.length > 0) {
  for (const cycle of cycles) console.error(`import cycle: ${cycle}`)
  for (const line of layering) console.error(`layering: ${line}`)
  process.exit(1)
}
console.log(`no import cycles in ${files.length} modules`)
