import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import Fastify, { LogController } from 'fastify'
import pino from 'pino'
import { lazyChildLoggerFactory } from '../../src/http/request-logger.ts'

function capturingLogger(level: pino.Level) {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
      done()
    },
  })
  const logger = pino({ level }, stream)
  let children = 0
  const child = logger.child.bind(logger)
  logger.child = ((...args: Parameters<typeof child>) => {
    children += 1
    return child(...args)
  }) as typeof logger.child
  return { logger, lines, children: () => children }
}

test('a request that logs nothing makes no child logger; one that logs writes its line with its request id', async () => {
  const { logger, lines, children } = capturingLogger('info')
  const app = Fastify({ loggerInstance: logger, logController: new LogController({ disableRequestLogging: true }), childLoggerFactory: lazyChildLoggerFactory, genReqId: () => 'req-1' })
  app.get('/quiet', async () => ({ ok: true }))
  app.get('/noisy', async (request) => {
    request.log.debug('dropped: below the level')
    request.log.info({ extra: 1 }, 'handled')
    request.log.warn('twice')
    return { ok: true }
  })
  try {
    await app.ready()
    const atStart = children() // Fastify's own, at start
    assert.equal((await app.inject('/quiet')).statusCode, 200)
    assert.equal(children() - atStart, 0, 'no child for a request that logs nothing')
    assert.equal((await app.inject('/noisy')).statusCode, 200)
    assert.equal(children() - atStart, 1, 'one child for the request that logs, made once')
    assert.deepEqual(lines.map((line) => [line.msg, line.reqId, line.level]), [['handled', 'req-1', 30], ['twice', 'req-1', 40]])
    assert.equal(lines[0]?.extra, 1)
  } finally {
    await app.close()
  }
})

test('a level below the logger\'s makes no child either; level reads through to the parent', async () => {
  const { logger, children } = capturingLogger('warn')
  const child = lazyChildLoggerFactory(logger, { reqId: 'r' }, {})
  child.info('dropped')
  child.debug('dropped')
  assert.equal(children(), 0)
  assert.equal(child.level, 'warn')
  child.error('kept')
  assert.equal(children(), 1)
})
