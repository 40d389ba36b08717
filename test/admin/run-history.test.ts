// The warmup run history lives in the database, so it survives a restart: a run finished before
// the app was closed, and a run cut short by the close, are both still there, as they ended,
// for the app opened next on the same database.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import type { WarmupRunRecord } from '../../src/warmup/summary.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { adminGet, adminPost, preferredBackend } from '../helpers/integration.ts'

type RunRecord = WarmupRunRecord

describe(`warmup run history across a restart [${preferredBackend}]`, () => {
  let pgliteDir: string | undefined
  let database: TestDatabase | undefined
  let restarted: TestApp | undefined
  let finishedRun: RunRecord
  let cutRunId: string

  before(async () => {
    // PGlite must persist to a directory to be opened again, and by one instance at a time.
    pgliteDir = preferredBackend === 'pglite' ? await mkdtemp(path.join(tmpdir(), 'run-history-')) : undefined
    database = await createTestDatabase(preferredBackend, pgliteDir ? { pgliteDir } : {})
    if (pgliteDir) await database.db.close()

    const first = await createTestApp({ database })
    try {
      const answer = await adminPost(first, '/api/scheduler/warmup', { type: 'primary' })
      assert.equal(answer.status, 200, answer.body)
      finishedRun = answer.json<RunRecord>()
      // A long run (every school's detail) that the close cuts short.
      const cut = await adminPost(first, '/api/scheduler/warmup', { type: 'details', async: true })
      assert.equal(cut.status, 202, cut.body)
      cutRunId = cut.json<{ runId: string }>().runId
    } finally {
      await first.close()
    }
    restarted = await createTestApp({ database })
  })

  after(async () => {
    await restarted?.close()
    await database?.drop()
    if (pgliteDir) await rm(pgliteDir, { recursive: true, force: true })
  })

  test('a finished run is served by the next app, as it ended', async () => {
    const answer = await adminGet(restarted!, `/api/scheduler/runs/${finishedRun.runId}`)
    assert.equal(answer.status, 200, answer.body)
    const record = answer.json<RunRecord>()
    assert.equal(record.runId, finishedRun.runId)
    assert.equal(record.status, 'succeeded')
    assert.equal(record.trigger, 'admin')
    assert.deepEqual(record.groups, ['primary'])
    assert.equal(record.keys, 9)
    assert.equal(record.warmed, 9)
    assert.equal(record.failed, 0)
    assert.equal(record.startedAt, finishedRun.startedAt)
    assert.equal(record.finishedAt, finishedRun.finishedAt)
  })

  test('a run cut short by the close is recorded as interrupted, never left running', async () => {
    const answer = await adminGet(restarted!, `/api/scheduler/runs/${cutRunId}`)
    assert.equal(answer.status, 200, answer.body)
    const record = answer.json<RunRecord>()
    assert.equal(record.status, 'interrupted')
    assert.deepEqual(record.groups, ['details'])
    assert.ok(record.warmed < 1316, `warmed ${record.warmed} of ${record.keys}`)
    assert.notEqual(record.finishedAt, null)
  })

  test('the status lists both among the recent runs', async () => {
    const answer = await adminGet(restarted!, '/api/scheduler/status')
    assert.equal(answer.status, 200, answer.body)
    const runs = answer.json<{ recentRuns: RunRecord[] }>().recentRuns
    const ids = runs.map((run) => run.runId)
    assert.ok(ids.includes(finishedRun.runId) && ids.includes(cutRunId), JSON.stringify(ids))
  })
})
