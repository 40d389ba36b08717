// HTTP hygiene every response shares: a request id (a sane incoming x-request-id is kept,
// otherwise one is generated; it is in the response header and in every log line of the
// request as `reqId`), security headers (@fastify/helmet, with a CSP the /docs UI works under),
// and CORS for an allow-list of origins (@fastify/cors: GET and HEAD only, no credentials).
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** What an incoming x-request-id may look like to be kept: short, printable, no separators a log parser could trip on. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/

/** Fastify's genReqId: the client's or proxy's x-request-id when it is sane, else a random UUID. */
export function requestId(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
}

export interface HttpSecurityOptions {
  /** Exact origins allowed to call the API from a browser; none: no CORS headers at all. */
  corsOrigins: readonly string[]
}

export const httpSecurityPlugin = fp(async (app: FastifyInstance, options: HttpSecurityOptions) => {
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id)
    done()
  })
  await app.register(helmet, {
    // Helmet's defaults, which the /docs UI (external scripts and styles of its own, inline
    // style attributes, data: images) already works under, without upgrade-insecure-requests:
    // the server is often reached over plain HTTP (localhost, behind a TLS proxy), and the
    // upgrade would send the UI's own assets to an https:// that does not exist there.
    contentSecurityPolicy: { useDefaults: true, directives: { upgradeInsecureRequests: null } },
  })
  if (options.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...options.corsOrigins],
      methods: ['GET', 'HEAD'],
      credentials: false,
      exposedHeaders: ['etag', 'x-request-id', 'retry-after'],
      maxAge: 600,
    })
  }
}, { name: 'http-security' })
