// HTTP hygiene every response shares: a request id (a sane incoming x-request-id is kept,
// otherwise one is generated; it is in the response header and in every log line of the
// request as `reqId`), security headers (helmet, with a CSP the /docs UI works under), and CORS
// for an allow-list of origins (@fastify/cors: GET and HEAD only, no credentials).
//
// helmet runs once, at start, and the headers it sets are kept: they depend on its options
// only. @fastify/helmet builds helmet's middleware again for every request (parsing the CSP
// each time), which measured 10-15% of a warm hit's CPU (README, "Performance").
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import cors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

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

const HELMET_OPTIONS: HelmetOptions = {
  // Helmet's defaults, which the /docs UI (external scripts and styles of its own, inline
  // style attributes, data: images) already works under, without upgrade-insecure-requests:
  // the server is often reached over plain HTTP (localhost, behind a TLS proxy), and the
  // upgrade would send the UI's own assets to an https:// that does not exist there.
  contentSecurityPolicy: { useDefaults: true, directives: { upgradeInsecureRequests: null } },
}

/** The headers helmet's middleware sets for `options`, captured once from a response that only records them. */
export function securityHeaders(options: HelmetOptions = HELMET_OPTIONS): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader(name: string, value: number | string | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
      return recorder
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  let failure: unknown
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    failure = error
  })
  if (failure) throw failure
  return Object.freeze(headers)
}

export const httpSecurityPlugin = fp(async (app: FastifyInstance, options: HttpSecurityOptions) => {
  const headers = securityHeaders()
  app.addHook('onRequest', (request, reply, done) => {
    void reply.headers(headers).header('x-request-id', request.id)
    done()
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
