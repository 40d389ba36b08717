#!/usr/bin/env node
// `npm test`: lint, then every test file under test/ with node's test runner.
// It probes the real PostgreSQL and Redis first. Where one answers, its suites run against it;
// where one does not, the PGlite and memory suites still run and this script says what it left out.
// With CI=true a missing server is an error: CI must never pass by skipping the real suites.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
const inCi = /^(1|true)$/i.test(process.env.CI ?? '')
const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const only = process.argv.slice(2)

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env })
  return result.status ?? 1
}

function reachable(address) {
  const { hostname, port } = new URL(address)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) })
    const done = (ok) => { socket.destroy(); resolve(ok) }
    socket.setTimeout(2000, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

function testFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name)
    if (statSync(full).isDirectory()) return testFiles(full)
    return name.endsWith('.test.ts') ? [path.relative(root, full)] : []
  }).sort()
}

if (only.length === 0) {
  console.log('lint: tsc --noEmit, eslint, import cycles')
  if (run('npx', ['tsc', '--noEmit']) !== 0 || run('npx', ['eslint', '.', '--max-warnings=0']) !== 0 || run(process.execPath, ['scripts/check-import-cycles.mjs']) !== 0) {
    console.error('lint failed')
    process.exit(1)
  }
}

const env = { ...process.env }
delete env.TEST_DATABASE_URL
delete env.TEST_REDIS_URL
const skipped = []
if (await reachable(databaseUrl)) env.TEST_DATABASE_URL = databaseUrl
else skipped.push(`PostgreSQL suites (nothing answers at ${new URL(databaseUrl).host})`)
if (await reachable(redisUrl)) env.TEST_REDIS_URL = redisUrl
else skipped.push(`Redis suites (nothing answers at ${new URL(redisUrl).host})`)

if (skipped.length > 0) {
  if (inCi) {
    console.error(`CI=true but the real servers are missing; refusing to skip:\n  ${skipped.join('\n  ')}`)
    process.exit(1)
  }
  console.warn(`Not run on this machine:\n  ${skipped.join('\n  ')}\nThe PGlite and in-memory suites run.`)
}

const files = only.length > 0 ? only : testFiles(path.join(root, 'test'))
const status = run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files], env)
if (skipped.length > 0) console.warn(`Reminder: not run here: ${skipped.join('; ')}`)
process.exit(status)
