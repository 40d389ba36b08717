// The run history must survive a restart: each test closes the database and opens the same
// one again (same PGlite directory, or same PostgreSQL schema), as a new process would.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { openDatabase } from '../../src/db/connect.ts'
import type { Database } from '../../src/db/database.ts'
import { WarmupHistory } from '../../src/warmup/history.ts'
import { WarmupRunner } from '../../src/warmup/runner.ts'
import { availableBackends, createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { appGroups, captureLogger, deferred, fakeTarget } from '../helpers/warmup-fakes.ts'

for (const backend of availableBackends()) {
  describe(`warmup history [${backend}]`, () => {
    let dir: string
    let testDb: TestDatabase
    let db: Database
    const reopen = async (): Promise<void> => {
      await db.close()
      db = await openDatabase(testDb.config)
    }

    before(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'warmup-history-'))
      testDb = await createTestDatabase(backend, { pgliteDir: path.join(dir, 'db') })
      db = testDb.db
    })
    after(async () => {
      await db.close().catch(() => {})
      await testDb.drop()
      await rm(dir, { recursive: true, force: true })
    })

    function runnerFor(instanceId: string, keys: string[], options: { failing?: string[]; onWarm?: () => Promise<void> } = {}) {
      const registry = appGroups().register(fakeTarget('lists', 'primary', keys, options)).register(fakeTarget('stats', 'stats', ['s']))
      return new WarmupRunner({ registry, logger: captureLogger().logger, instanceId, history: new WarmupHistory(db) })
    }

    test('a run writes a running row at start and its summary at the end, readable after a restart', async () => {
      const gate = deferred()
      const runner = runnerFor('host#0', ['a', 'b', 'c'], { failing: ['c'], onWarm: () => gate.promise })
      const { run } = runner.start({ groups: ['primary'], trigger: 'schedule:noon-lists' })
      const history = new WarmupHistory(db)
      let row = await history.get(run.runId)
      while (!row) row = await history.get(run.runId)
      assert.equal(row.status, 'running')
      assert.equal(row.finishedAt, null)
      assert.equal(row.instance, 'host#0')
      gate.resolve()
      const summary = await run.done

      await reopen()
      const stored = await new WarmupHistory(db).get(run.runId)
      assert.deepEqual(stored, { ...summary, errors: summary.errors.map((error) => ({ ...error })) })
      assert.equal(stored?.status, 'partial')
      assert.deepEqual(stored?.errors.map((error) => error.key), ['c'])
      assert.equal(stored?.slowest.length, 3)
    })

    test('recent(), lastByTrigger() and lastForJob() read newest first', async () => {
      const runner = runnerFor('host#0', ['a'])
      const boot = await runner.run({ groups: ['all'], trigger: 'boot' })
      const noon = await runner.run({ groups: ['primary'], trigger: 'schedule:noon-lists' })
      const admin = await runner.run({ groups: ['stats'], trigger: 'admin' })
      await reopen()
      const history = new WarmupHistory(db)
      const recent = await history.recent(3)
      assert.deepEqual(recent.map((record) => record.runId), [admin.runId, noon.runId, boot.runId])
      assert.equal((await history.lastByTrigger('boot'))?.runId, boot.runId)
      assert.equal((await history.lastForJob('noon-lists'))?.runId, noon.runId)
      assert.deepEqual((await history.lastForJob('noon-lists'))?.groups, ['primary'])
      assert.equal(await history.lastForJob('never-ran'), undefined)
      assert.equal(await history.get('wu-missing'), undefined)
      assert.equal((await history.recent(1)).length, 1)
    })

    test("after a crash, only this instance's leftover running rows become interrupted", async () => {
      const history = new WarmupHistory(db)
      const startedAt = new Date(Date.now() - 5000).toISOString()
      await history.recordStart({ runId: 'wu-dead-a', trigger: 'boot', groups: ['primary'], instance: 'host-a#0', startedAt })
      await history.recordStart({ runId: 'wu-live-b', trigger: 'boot', groups: ['primary'], instance: 'host-b#0', startedAt })
      await history.recordStart({ runId: 'wu-dead-a-slot1', trigger: 'boot', groups: ['primary'], instance: 'host-a#1', startedAt })
      // The process of host-a#0 dies here; a new one starts with the same instance id.
      await reopen()
      const restarted = new WarmupHistory(db)
      assert.deepEqual(await restarted.markInterrupted('host-a#0'), ['wu-dead-a'])
      const dead = await restarted.get('wu-dead-a')
      assert.equal(dead?.status, 'interrupted')
      assert.ok(dead?.finishedAt)
      assert.ok((dead?.durationMs ?? 0) >= 4000)
      assert.equal((await restarted.get('wu-live-b'))?.status, 'running')
      assert.equal((await restarted.get('wu-dead-a-slot1'))?.status, 'running')
      assert.deepEqual(await restarted.markInterrupted('host-a#0'), [], 'nothing left to mark the second time')
    })

    test('a rerun under the same run id (BullMQ retry) replaces the row', async () => {
      const runner = runnerFor('host#0', ['a', 'b'], { failing: ['a', 'b'] })
      const first = await runner.run({ groups: ['primary'], trigger: 'admin', runId: 'wu-retry-1' })
      assert.equal(first.status, 'failed')
      const retried = await runnerFor('host#1', ['a', 'b']).run({ groups: ['primary'], trigger: 'admin', runId: 'wu-retry-1' })
      const stored = await new WarmupHistory(db).get('wu-retry-1')
      assert.equal(stored?.status, 'succeeded')
      assert.equal(stored?.instance, 'host#1')
      assert.deepEqual(stored?.errors, [])
      assert.equal(stored?.runId, retried.runId)
    })
  })
}
