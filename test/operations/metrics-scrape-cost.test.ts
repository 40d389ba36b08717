// Issue 10: a /metrics scrape costs the same with 100,000 keys in Redis as with none. Measured
// without clocks: Redis MONITOR records every command that names this test's prefix, and a scrape
// must issue none (in particular no SCAN); the key count comes from the background sampler.
// Also: METRICS_TOKEN protects /metrics.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Redis } from 'ioredis'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts'
import { closeTestApp, delay, eventually, get } from '../helpers/integration.ts'
import { rawRedis } from '../helpers/redis.ts'

const KEYS = 100_000
const METRICS_TOKEN = 'metrics-token-0123456789'
const skip = testRedisUrl ? false : 'needs Redis (TEST_REDIS_URL)'

/**
 * MONITOR on a plain socket: ioredis's monitor() can fail with "Command queue state error" when
 * another client's command is echoed before it has switched modes (other test files share Redis).
 * Each line is `+<time> [<db> <client>] "command" "arg" ...`; `onCommand` gets the unquoted words.
 */
function monitorRedis(url: string, onCommand: (args: string[]) => void): Promise<net.Socket> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port || 6379) }, () => {
      socket.write('MONITOR\r\n')
      resolve(socket)
    })
    socket.once('error', reject)
    let pending = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\r\n')
      pending = lines.pop() ?? ''
      for (const line of lines) {
        const words = line.slice(line.indexOf(']') + 1).match(/"(?:[^"\\]|\\.)*"/g)
        if (words) onCommand(words.map((word) => word.slice(1, -1).replace(/\\(.)/g, '$1')))
      }
    })
  })
}

describe('/metrics in constant time [redis]', { skip }, () => {
  let testApp: TestApp | undefined
  let redis: Redis | undefined
  let monitor: net.Socket | undefined
  const seen: string[][] = []

  before(async () => {
    testApp = await createTestApp({ backend: testDatabaseUrl ? 'postgres' : 'pglite', redis: true, env: { CACHE_KEY_COUNT_SECONDS: '0', METRICS_TOKEN, DATABASE_TIMEOUT_MS: '60000', REDIS_COMMAND_TIMEOUT_MS: '30000' } })
    redis = rawRedis(testRedisUrl!)
    const prefix = testApp.config.redisPrefix
    monitor = await monitorRedis(testRedisUrl!, (args) => {
      if (args.some((arg) => arg.includes(prefix))) seen.push(args)
    })
  })
  after(async () => {
    monitor?.destroy()
    redis?.disconnect()
    await closeTestApp(testApp)
  })

  /** Redis commands naming the prefix while `run` ran; a marker command makes sure MONITOR has delivered them all. */
  async function commandsDuring(run: () => Promise<void>): Promise<string[][]> {
    const prefix = testApp!.config.redisPrefix
    const start = seen.length
    await run()
    const marker = `${prefix}:marker:${Math.random()}`
    await redis!.exists(marker)
    await eventually(() => (seen.slice(start).some((args) => args.includes(marker)) ? true : undefined), 30_000, 'MONITOR to deliver the marker')
    // The cache bus subscribing (once, whenever its connection comes up) is not the scrape's doing.
    return seen.slice(start).filter((args) => !args.includes(marker) && !/^p?subscribe$/i.test(args[0] ?? ''))
  }

  /**
   * Commands during three scrapes. REDIS_COMMAND_TIMEOUT_MS is long, so a loaded machine (MONITOR
   * slows Redis, other suites share it) does not make the app's commands time out. If its
   * connection is lost all the same, when it is back the app expires everything (its Redis
   * recovery: SCAN, then PTTL and a bus message per key). That is not the scrape's doing: a window that caught it
   * (PTTL is only sent by that bulk expiry) is measured again, up to five times.
   */
  async function scrapeWindow(): Promise<string[][]> {
    let commands: string[][] = []
    for (let attempt = 0; attempt < 5; attempt += 1) {
      commands = await commandsDuring(async () => {
        for (let round = 0; round < 3; round += 1) await scrape()
      })
      if (!commands.some((args) => /^pttl$/i.test(args[0] ?? ''))) return commands
      await eventually(async () => (testApp!.runtime.cache.status().redisReachable ? true : undefined), 30_000, 'Redis to be reachable again')
      await delay(2000)
    }
    return commands
  }

  const scrape = async (): Promise<void> => {
    const answer = await get(testApp!, '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })
    assert.equal(answer.status, 200, answer.body)
    assert.match(answer.body, /schools_cache_keys /)
  }

  test('METRICS_TOKEN: /metrics refuses a missing or wrong token', async () => {
    assert.equal((await get(testApp!, '/metrics')).status, 401)
    assert.equal((await get(testApp!, '/metrics', { authorization: 'Bearer wrong-token-0123456789' })).status, 401)
  })

  test(`a scrape issues no Redis command (no SCAN) with 0 keys and with ${KEYS.toLocaleString('en')} keys`, async () => {
    const app = testApp!
    const prefix = app.runtime.cache.redisKeyPrefix
    const empty = await scrapeWindow()
    assert.deepEqual(empty, [])

    for (let start = 0; start < KEYS; start += 5000) {
      const batch = redis!.pipeline()
      for (let index = start; index < Math.min(KEYS, start + 5000); index += 1) batch.set(`${prefix}:list:filler${index}`, 'x', 'EX', 600)
      await batch.exec()
    }
    // Let MONITOR deliver the inserts before measuring (it lags behind 100,000 commands).
    await commandsDuring(async () => {})
    const full = await scrapeWindow()
    assert.deepEqual(full, [], `a scrape sent Redis: ${full.map((args) => args[0]).join(', ')}`)
    assert.ok(!full.some((args) => /^scan$/i.test(args[0] ?? '')))

    // The count itself comes from the background sampler (one SCAN per CACHE_KEY_COUNT_SECONDS).
    const counted = await commandsDuring(async () => {
      assert.ok(((await app.runtime.cache.sampleKeyCount()) ?? 0) >= KEYS)
    })
    assert.ok(counted.some((args) => /^scan$/i.test(args[0] ?? '')), 'the sampler counts with SCAN')
    const body = (await get(app, '/metrics', { authorization: `Bearer ${METRICS_TOKEN}` })).body
    const redisKeys = Number(/^schools_cache_redis_keys (\d+)/m.exec(body)?.[1])
    assert.ok(redisKeys >= KEYS, `schools_cache_redis_keys ${redisKeys}`)
  })
})
