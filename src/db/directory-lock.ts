// One process owns an embedded (PGlite) database directory. PGlite has no lock of its own, and
// two processes writing one directory silently lose rows and can leave it unopenable. The lock
// is a pid file beside the directory, created exclusively (O_EXCL); a lock whose process is gone
// (crash, kill -9) is stale and taken over.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { DatabaseLockedError } from '../errors.ts'

export interface DirectoryLock {
  readonly file: string
  release(): void
}

interface LockRecord {
  pid: number
  hostname: string
  startedAt: string
}

const heldHere = new Set<string>()

export function lockFileFor(dataDir: string): string {
  return `${dataDir.replace(/[\\/]+$/, '')}.lock`
}

/** True while a process with this pid exists on this host (signal 0 only checks). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readRecord(file: string): LockRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockRecord>
    return typeof parsed.pid === 'number' ? { pid: parsed.pid, hostname: String(parsed.hostname ?? ''), startedAt: String(parsed.startedAt ?? '') } : undefined
  } catch {
    return undefined
  }
}

/** Takes the lock of `dataDir` or throws DatabaseLockedError naming the holder. */
export function lockDirectory(dataDir: string): DirectoryLock {
  const file = lockFileFor(dataDir)
  // Two opens in one process corrupt the directory just as well as two processes.
  if (heldHere.has(file)) throw new DatabaseLockedError(dataDir, process.pid, file)
  const record: LockRecord = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() }
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(record), { flag: 'wx', mode: 0o600 })
      let released = false
      heldHere.add(file)
      return {
        file,
        release: () => {
          if (released) return
          released = true
          heldHere.delete(file)
          // Only our own lock: never remove one a later owner took over.
          if (readRecord(file)?.pid === process.pid) unlinkSync(file)
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const holder = readRecord(file)
    // Another host's pid says nothing about this host's processes: never treat it as stale.
    const sameHost = !holder || holder.hostname === '' || holder.hostname === record.hostname
    if (holder && holder.pid !== process.pid && (processAlive(holder.pid) || !sameHost)) throw new DatabaseLockedError(dataDir, holder.pid, file)
    // Stale (its process is gone) or unreadable (a writer died between create and write): take over.
    try {
      unlinkSync(file)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  const holder = readRecord(file)
  throw new DatabaseLockedError(dataDir, holder?.pid ?? -1, file)
}
