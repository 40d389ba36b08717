// Log output: secrets registered with redactSecret never reach a log line, whatever field or
// message carries them; LOG_FORMAT=pretty prints one human-readable line per event with an ISO
// time; the log file stays JSON.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { PROJECT_ROOT } from '../../src/config.ts'

const SCRIPT = `
import { createLogger, redactSecret } from './src/logger.ts'
const [format, file, secret] = process.argv.slice(1)
const logger = createLogger({ logLevel: 'info', logFile: file, logFormat: format })
redactSecret(secret)
logger.info({ nested: { value: secret }, adminToken: 'x' }, 'warmup started: token ' + secret)
logger.warn('second event')
logger.flush()
`

function run(format: string, file: string, secret: string): { stdout: string; file: string } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, format, file, secret], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 60_000 })
  assert.equal(child.status, 0, child.stderr)
  return { stdout: child.stdout, file: readFileSync(file, 'utf8') }
}

describe('logger', () => {
  let dir = ''
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'log-format-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('a registered secret is redacted from the message and from every field, on the console and in the file', () => {
    const secret = 'S3cr3t-token-value-0123456789'
    const out = run('json', path.join(dir, 'json.log'), secret)
    for (const text of [out.stdout, out.file]) {
      assert.ok(!text.includes(secret), text)
      assert.match(text, /warmup started: token \[REDACTED\]/)
      const first = JSON.parse(text.split('\n')[0]!) as { nested: { value: string }; adminToken: string }
      assert.equal(first.nested.value, '[REDACTED]')
      assert.equal(first.adminToken, '[REDACTED]')
    }
  })

  test('LOG_FORMAT=pretty: one line per event with an ISO time on the console; the file stays JSON', () => {
    const out = run('pretty', path.join(dir, 'pretty.log'), 'another-secret-0123456789')
    const lines = out.stdout.trim().split('\n')
    assert.equal(lines.length, 2, out.stdout)
    assert.match(lines[0]!, /^\[\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\] INFO.*warmup started: token \[REDACTED\]/)
    assert.match(lines[1]!, /WARN.*second event/)
    for (const line of out.file.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line))
  })
})
