// The API answers while a long warmup runs, on the embedded database too. PGlite runs in the
// server's own thread and answers through promises alone, so a warmup's chain of queries could
// hold the event loop for its whole length (every school's detail: many seconds) and leave
// clients, timers and shutdown waiting. Checked over a real socket, as a client sees it.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { closeTestApp } from '../helpers/integration.ts'

describe('answers during a long warmup [pglite]', () => {
  let testApp: TestApp | undefined
  let address: string

  before(async () => {
    testApp = await createTestApp({ backend: 'pglite' })
    address = await testApp.app.listen({ host: '127.0.0.1', port: 0 })
    const warmed = await testApp.runtime.runner.run({ groups: ['stats'], trigger: 'test' })
    assert.equal(warmed.failed, 0)
  })
  after(() => closeTestApp(testApp))

  test('a request and a timer both get their turn while every school detail is being warmed', async () => {
    const { runtime } = testApp!
    // Asked once the keys are listed, so the answer has to come while they are being warmed.
    let planned!: () => void
    const listed = new Promise<void>((resolve) => (planned = resolve))
    const { run } = runtime.runner.start({ groups: ['details'], trigger: 'test', listener: { onPlan: () => planned() } })
    await listed
    let timerFired = false
    setTimeout(() => {
      timerFired = true
    }, 0)
    const response = await fetch(`${address}/api/schools/stats`, { signal: AbortSignal.timeout(60_000) })
    const stillRunning = runtime.runner.current()?.runId === run.runId
    const progress = run.progress()
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('x-cache'), 'hit')
    assert.ok(stillRunning && progress.completed < progress.keys, `answered only after the run (${progress.completed}/${progress.keys} keys done)`)
    assert.ok(timerFired)
    // Cut the run short: the close below would otherwise wait for the remaining keys.
    await runtime.runner.close()
    assert.equal((await run.done).status, 'interrupted')
  })
})
