// Admin API errors speak the catalogue, and admin bodies are taken as sent: a body that is not
// JSON gets E_UNSUPPORTED_MEDIA_TYPE saying what to send, an unknown warmup type lists the
// allowed values (the registry's groups), a value of the wrong type is a 400 with no coercion
// (while public query strings keep theirs), and clear-and-warmup with async answers 202 before
// its expiry has run (the expiry is the run's first step; a clear that arrives after it began
// gets one more expiry).
// Run with the local scheduler (memory cache) and with BullMQ (Redis) when Redis answers.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createTestApp, TEST_ADMIN_TOKEN, type TestApp } from '../helpers/app.ts'
import { testRedisUrl } from '../helpers/env.ts'
import { adminGet, adminPost, closeTestApp, eventually, get, preferredBackend, request } from '../helpers/integration.ts'

const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }

for (const setup of [{ scheduler: 'local', redis: false }, { scheduler: 'bullmq', redis: true }] as const) {
  describe(`admin API errors [${setup.scheduler}]`, { skip: setup.redis && !testRedisUrl ? 'no Redis (TEST_REDIS_URL)' : false }, () => {
    let testApp: TestApp | undefined
    const app = (): TestApp => testApp!

    before(async () => {
      testApp = await createTestApp({ backend: preferredBackend, redis: setup.redis, env: { SCHEDULER: setup.scheduler } })
      await app().runtime.scheduler!.start()
    })
    after(() => closeTestApp(testApp))

    test('a body that is not JSON: 415 E_UNSUPPORTED_MEDIA_TYPE saying what to send; nothing starts', async () => {
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
        const answer = await request(app(), 'POST', '/api/scheduler/warmup', { headers: { ...admin, 'content-type': contentType }, body: 'type=stats' })
        assert.equal(answer.status, 415, answer.body)
        assert.equal(answer.json().error, 'E_UNSUPPORTED_MEDIA_TYPE')
        assert.match(answer.json<{ message: string }>().message, /content-type: application\/json/)
      }
      assert.equal(app().runtime.runner.current(), undefined)
    })

    test('an unknown type lists the allowed values, from the registry', async () => {
      const answer = await adminPost(app(), '/api/scheduler/warmup', { type: 'everything' })
      assert.equal(answer.status, 400, answer.body)
      assert.equal(answer.json().parameter, 'type')
      const message = answer.json<{ message: string }>().message
      for (const group of ['all', ...app().runtime.registry.groups().map((each) => each.name)]) assert.ok(message.includes(`'${group}'`), `${group} in: ${message}`)
    })

    test('admin bodies are not coerced; public query strings are', async () => {
      const cases: [string, unknown, string][] = [
        ['/api/scheduler/warmup', { type: ['stats'] }, 'type'],
        ['/api/scheduler/warmup', { async: 'true' }, 'async'],
        ['/api/scheduler/warmup', { async: 1 }, 'async'],
        ['/api/scheduler/clear-and-warmup', { async: 'true' }, 'async'],
      ]
      for (const [url, body, field] of cases) {
        const answer = await adminPost(app(), url, body)
        assert.equal(answer.status, 400, `${url} ${JSON.stringify(body)}: ${answer.body}`)
        assert.equal(answer.json().parameter, field)
      }
      assert.equal(app().runtime.runner.current(), undefined, 'nothing started')
      const listed = await get(app(), '/api/schools/primary?page=1&pageSize=5&district=sha-tin')
      assert.equal(listed.status, 200, listed.body)
      assert.equal(listed.json().pageSize, 5)
    })

    test('clear-and-warmup async answers 202 before its expiry runs; a clear after its expiry began expires once more', async () => {
      const cache = app().runtime.cache
      const original = cache.expireAll.bind(cache)
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      let expiries = 0
      cache.expireAll = async () => {
        expiries += 1
        await gate
        return original()
      }
      try {
        const first = await adminPost(app(), '/api/scheduler/clear-and-warmup', { async: true })
        assert.equal(first.status, 202, first.body)
        const { runId } = first.json<{ runId: string }>()
        // The second clear arrives once the first expiry has begun (it waits at the gate), so it
        // may miss a change made since: it joins the run and adds exactly one more expiry.
        await eventually(async () => (expiries === 1 ? true : undefined), 60_000, 'the first expiry to begin', 20)
        const second = await adminPost(app(), '/api/scheduler/clear-and-warmup', { async: true })
        assert.equal(second.status, 202, second.body)
        // Locally the clear joins the run and the run expires once more; on BullMQ (the run may be
        // on another instance) it queues one follow-up clearing run behind it.
        const followUp = setup.scheduler === 'bullmq'
        if (followUp) assert.notEqual(second.json().runId, runId)
        else assert.deepEqual([second.json().runId, second.json().alreadyRunning], [runId, true])
        release()
        const record = await eventually(async () => {
          const answer = await adminGet(app(), `/api/scheduler/runs/${runId}`)
          const body = answer.status === 200 ? answer.json<{ status: string; trigger: string }>() : undefined
          return body && body.status !== 'running' ? body : undefined
        }, 120_000, `run ${runId} to finish`, 100)
        assert.equal(record.status, 'succeeded')
        assert.equal(record.trigger, 'admin:clear')
        if (followUp) {
          const next = await eventually(async () => {
            const answer = await adminGet(app(), `/api/scheduler/runs/${second.json().runId}`)
            const body = answer.status === 200 ? answer.json<{ status: string }>() : undefined
            return body && body.status !== 'running' ? body : undefined
          }, 120_000, 'the follow-up run to finish', 100)
          assert.equal(next.status, 'succeeded')
        }
        assert.equal(expiries, 2, 'the first expiry, and one more for the clear that came after it began')
      } finally {
        release()
        cache.expireAll = original
      }
    })
  })
}
