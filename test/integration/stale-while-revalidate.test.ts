// A warmed key never goes cold: past its TTL it is served at once (stale) with the body it had,
// while one background reload per key replaces it. (That the answer does not wait for the reload
// is shown with the database held still, in grace-suite.ts.)
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { describeEachCacheMode, eventually, get, queriesDuring, warmedUrls, type Answer } from '../helpers/integration.ts'
import { withClockAhead } from '../helpers/wait.ts'

const TTL_SECONDS = 60

describeEachCacheMode('a warmed key never goes cold', (getApp) => {
  const urls = warmedUrls()
  const warmed = new Map<string, Answer>()

  before(async () => {
    const summary = await getApp().runtime.runner.run({ groups: ['all'], trigger: 'test' })
    assert.equal(summary.failed, 0)
    for (const url of urls) warmed.set(url, await get(getApp(), url))
  })

  test('past its TTL a warm key answers at once with the old body, and only background reloads query', async () => {
    // The clock moves past twice the TTL of every class here without waiting for it. The TTL is
    // long in real time, so nothing goes stale while the suite warms, however slow the machine.
    await withClockAhead(2 * TTL_SECONDS * 1000 + 1000, async () => {
      const { result: answers, queries: duringRequests } = await queriesDuring(getApp(), async () => {
        const answers: Answer[] = []
        for (const url of urls) answers.push(await get(getApp(), url))
        return answers
      })
      for (const [index, answer] of answers.entries()) {
        const url = urls[index]!
        assert.equal(answer.status, 200, url)
        assert.ok(answer.headers['x-cache'] === 'hit' || answer.headers['x-cache'] === 'stale', `${url}: ${String(answer.headers['x-cache'])}`)
        assert.equal(answer.headers.etag, warmed.get(url)!.headers.etag, `${url} answers with the body it had, not a reloaded one`)
      }
      assert.equal(answers.filter((answer) => answer.headers['x-cache'] === 'stale').length >= urls.length - 2, true, 'all but at most the filter options (reloaded by list reloads) are stale')

      // Let the background reloads finish: the counter stops moving.
      const before = getApp().runtime.db.counter.total - duringRequests
      let last = -1
      await eventually(async () => {
        const now = getApp().runtime.db.counter.total
        const stable = now === last
        last = now
        return stable ? true : undefined
      }, 10_000, 'background reloads to finish', 300)
      const reloads = getApp().runtime.db.counter.total - before
      // One reload per stale key; a list reload may also reload its level's filter options once.
      assert.ok(reloads >= 1 && reloads <= urls.length + 2, `${reloads} queries for ${urls.length} stale reads`)
    })
  })
}, { env: { CACHE_TTL_LIST: String(TTL_SECONDS), CACHE_TTL_STATS: String(TTL_SECONDS), CACHE_TTL_DETAIL: String(TTL_SECONDS) } })
