// Builds the HTTP server in a fixed order: infrastructure plugins (errors, docs, metrics),
// then the repositories and services the routes use, then the routes. Nothing here opens
// connections: the runtime (src/runtime.ts) hands in what it opened, so tests can build an
// app around a database and cache of their own.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Database } from './db/database.ts'
import { docsPlugin } from './http/docs.ts'
import { frameworkErrorHandler, registerErrorHandler, schemaErrorFormatter } from './http/error-handler.ts'
import { httpSecurityPlugin, requestId } from './http/security.ts'
import { healthRoutes, type HealthDependencies } from './operations/health-routes.ts'
import type { SchoolReads } from './schools/reads.ts'
import { schoolRoutes, type ReadRecorder } from './schools/routes.ts'

export interface AppDependencies {
  db: Database
  reads: SchoolReads
  /** Counts successful reads for the request statistics (src/traffic); absent when they are off. */
  recordRead?: ReadRecorder | undefined
  logger: Logger | false
  /** Log every request (LOG_REQUESTS); off by default. */
  logRequests?: boolean
  health?: HealthDependencies['components']
  /** Reported by /health: this process's instance id and pid. */
  instance?: HealthDependencies['instance']
  /** /health/ready: false while the instance should get no traffic yet. */
  ready?: HealthDependencies['ready']
  /** Further route plugins registered last (admin, metrics), in order. */
  routes?: ((app: FastifyInstance) => Promise<void>)[]
  /** Proxies whose X-Forwarded-For gives request.ip (Fastify trustProxy); none by default. */
  trustedProxies?: readonly string[]
  /** Browser origins allowed by CORS; none by default. */
  corsOrigins?: readonly string[]
  /** Extra infrastructure plugins registered first. */
  plugins?: ((app: FastifyInstance) => Promise<void>)[]
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    // Two log lines per request would cost more than serving a cached body; errors are still logged.
    logController: new LogController({ disableRequestLogging: !deps.logRequests }),
    // Query strings and bodies are validated strictly: unknown parameters are errors, not dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    schemaErrorFormatter,
    frameworkErrors: frameworkErrorHandler,
    routerOptions: { maxParamLength: 200 },
    bodyLimit: 64 * 1024,
    // Bound every request; a stuck dependency turns into an error, not a hung socket.
    connectionTimeout: 0,
    requestTimeout: 30_000,
    return503OnClosing: true,
    // request.ip: the socket's address, or X-Forwarded-For's as seen by the first untrusted hop.
    trustProxy: deps.trustedProxies && deps.trustedProxies.length > 0 ? [...deps.trustedProxies] : false,
    requestIdHeader: false,
    genReqId: requestId,
  })

  // 1. Infrastructure
  registerErrorHandler(app)
  await app.register(httpSecurityPlugin, { corsOrigins: deps.corsOrigins ?? [] })
  await app.register(docsPlugin)
  for (const plugin of deps.plugins ?? []) await plugin(app)

  // 2. Repositories and services are built by the runtime and handed in as deps.

  // 3. Routes
  await app.register(healthRoutes, { db: deps.db, ...(deps.health ? { components: deps.health } : {}), ...(deps.instance ? { instance: deps.instance } : {}), ...(deps.ready ? { ready: deps.ready } : {}) })
  await app.register(schoolRoutes, { reads: deps.reads, ...(deps.recordRead ? { recordRead: deps.recordRead } : {}) })
  for (const routes of deps.routes ?? []) await routes(app)
  return app
}
