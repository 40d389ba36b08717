// The embedded database's directory lock and the message for a directory PGlite cannot open.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { lockDirectory, lockFileFor } from '../../src/db/directory-lock.ts'
import { PgliteDatabase } from '../../src/db/pglite.ts'
import { DatabaseLockedError, DatabaseUnopenableError } from '../../src/errors.ts'

/** A pid that belonged to a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(child.stdout)
}

describe('embedded database directory lock', () => {
  let dir = ''
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dir-lock-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('a held lock refuses a second taker with the holder pid; release frees it', () => {
    const data = path.join(dir, 'a')
    const lock = lockDirectory(data)
    assert.throws(() => lockDirectory(data), (error: unknown) => error instanceof DatabaseLockedError && error.holderPid === process.pid && /in use by process \d+/.test(error.message))
    lock.release()
    assert.ok(!existsSync(lockFileFor(data)))
    lockDirectory(data).release()
  })

  test('a lock held by a live process of this host is refused', () => {
    const data = path.join(dir, 'b')
    // pid 1 is alive on any host (and not ours).
    writeFileSync(lockFileFor(data), JSON.stringify({ pid: 1, hostname: hostname(), startedAt: new Date().toISOString() }))
    assert.throws(() => lockDirectory(data), (error: unknown) => error instanceof DatabaseLockedError && error.holderPid === 1)
  })

  test('a lock whose process is gone is stale and taken over', () => {
    const data = path.join(dir, 'c')
    writeFileSync(lockFileFor(data), JSON.stringify({ pid: deadPid(), hostname: hostname(), startedAt: new Date().toISOString() }))
    const lock = lockDirectory(data)
    assert.equal((JSON.parse(readFileSync(lockFileFor(data), 'utf8')) as { pid: number }).pid, process.pid)
    lock.release()
  })

  test('a directory PGlite cannot open gets a clear error, the lock is released and nothing is deleted', async () => {
    const data = path.join(dir, 'damaged')
    mkdirSync(data)
    writeFileSync(path.join(data, 'PG_VERSION'), 'not a version\n')
    await assert.rejects(PgliteDatabase.open(data), (error: unknown) => error instanceof DatabaseUnopenableError && /cannot be opened/.test(error.message) && /Nothing was changed or deleted/.test(error.message))
    assert.ok(!existsSync(lockFileFor(data)), 'lock released')
    assert.deepEqual(readdirSync(data).includes('PG_VERSION'), true)
    assert.equal(readFileSync(path.join(data, 'PG_VERSION'), 'utf8'), 'not a version\n')
  })
})
