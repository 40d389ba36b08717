// Summarises a V8 .cpuprofile (from `npm run bench -- --profile`): self time per function
// and per file, the heaviest first, so the per-request cost of a mode can be read off.
// Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export function summarise(profile: CpuProfile, top: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfMicros = new Map<number, number>()
  profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)))
  // Percentages are of busy time: idle samples (waiting for the network) are left out, and so
  // is the profiler's own start call (the first sample carries the time before profiling began).
  const leftOut = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id))
  const leaveOutSubtree = (id: number): void => {
    leftOut.add(id)
    for (const child of byId.get(id)?.children ?? []) leaveOutSubtree(child)
  }
  for (const node of profile.nodes) if (node.callFrame.url === 'node:inspector' && node.callFrame.functionName === 'post') leaveOutSubtree(node.id)
  for (const id of leftOut) selfMicros.delete(id)
  const total = [...selfMicros.values()].reduce((sum, value) => sum + value, 0)
  const perFunction = new Map<string, number>()
  const perFile = new Map<string, number>()
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame
    const file = shortFile(frame.url) || '(native)'
    const name = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`
    perFunction.set(name, (perFunction.get(name) ?? 0) + micros)
    const module = file.startsWith('src/') || file.startsWith('bench/') ? file : file.split('/').slice(0, file.startsWith('@') ? 2 : 1).join('/')
    perFile.set(module, (perFile.get(module) ?? 0) + micros)
  }
  const lines = (title: string, map: Map<string, number>): string[] => [
    title,
    ...[...map].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, micros]) => `${((micros / total) * 100).toFixed(1).padStart(5)}%  ${name}`),
  ]
  // Inclusive time: a function's own samples plus everything it called (counted once per
  // sample even when the function recurses).
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const inclusive = new Map<string, number>()
  for (const [id, micros] of selfMicros) {
    const seen = new Set<string>()
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const frame = byId.get(current)!.callFrame
      if (!frame.url) continue
      const name = `${frame.functionName || '(anonymous)'} ${shortFile(frame.url)}:${frame.lineNumber + 1}`
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + micros)
    }
  }
  return [`busy ${(total / 1e6).toFixed(2)} s sampled (percentages are of busy time)`, ...lines('self time by function:', perFunction), ...lines('self time by module:', perFile), ...lines('inclusive time by function:', inclusive)]
}

function shortFile(url: string): string {
  return url.replace(/^file:\/\/.*?\/node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')
}

/** Summarises every `<dir>/*.cpuprofile` into a `.txt` beside it; returns the files written. */
export function summariseProfileDirs(dir: string, top = 40): string[] {
  const written: string[] = []
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.cpuprofile'))) {
    const file = path.join(dir, name.replace(/\.cpuprofile$/, '.txt'))
    writeFileSync(file, `${summarise(JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as CpuProfile, top).join('\n')}\n`)
    written.push(file)
  }
  return written
}

const isEntryPoint = import.meta.url === `file://${process.argv[1]}`
if (isEntryPoint) {
  const [file, top] = process.argv.slice(2)
  if (!file) throw new Error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]')
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(top ?? 30)).join('\n'))
}
