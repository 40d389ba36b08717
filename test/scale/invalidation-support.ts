// What the invalidation tests ask of server processes: a GET that must succeed, "every instance
// serves the same cached document", and "poll an instance until its ETag changes".
import assert from 'node:assert/strict'
import type http from 'node:http'
import { delay, pollFor, type HttpAnswer, type NodeProcess } from '../helpers/process-server.ts'

export async function get(instance: NodeProcess, urlPath: string, agent: http.Agent): Promise<HttpAnswer> {
  const answer = await instance.request('GET', urlPath, { agent })
  assert.equal(answer.status, 200, `${instance.label} GET ${urlPath}: ${answer.body}`)
  return answer
}

/** Waits until every instance serves one and the same document from its cache; returns its ETag. */
export function cachedEverywhere(instances: NodeProcess[], urlPath: string, agent: http.Agent): Promise<string> {
  return pollFor(`${instances.map((instance) => instance.label).join(' and ')} to serve the same cached ${urlPath}`, 10_000, async () => {
    const answers = []
    for (const instance of instances) answers.push(await get(instance, urlPath, agent))
    const etag = answers[0]?.headers.etag
    return etag !== undefined && answers.every((answer) => answer.headers.etag === etag && answer.headers['x-cache'] === 'hit') ? etag : undefined
  }, 5)
}

/**
 * Polls back to back until the instance's ETag differs from `oldEtag`: that answer and when it came
 * (performance.now()). On timeout the failure says how the last answer was served (x-cache) and
 * whatever `context` adds (what the other processes did), so one red run tells what happened.
 */
export async function untilChanged(instance: NodeProcess, urlPath: string, oldEtag: string, timeoutMs: number, agent: http.Agent, context?: () => Promise<string>): Promise<{ answer: HttpAnswer; at: number }> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const answer = await get(instance, urlPath, agent)
    if (answer.headers.etag !== oldEtag) return { answer, at: performance.now() }
    if (performance.now() > deadline) {
      const more = context ? await context().catch((error: unknown) => `(context failed: ${String(error)})`) : ''
      assert.fail(`${instance.label} still served ${oldEtag} for ${urlPath} ${timeoutMs} ms later (last answer: x-cache ${String(answer.headers['x-cache'])})${more ? `\n${more}` : ''}`)
    }
    await delay(1)
  }
}

/** One line on how `instance` serves `urlPath` now: its x-cache and ETag. */
export async function servedBy(instance: NodeProcess, urlPath: string, agent: http.Agent): Promise<string> {
  const answer = await instance.request('GET', urlPath, { agent })
  return `${instance.label}: ${answer.status} x-cache ${String(answer.headers['x-cache'])} etag ${String(answer.headers.etag)}`
}
