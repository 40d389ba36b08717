// Builds the HTTP server in a fixed order, the order of buildApp's code: infrastructure first
// (error handler, security headers and CORS, the OpenAPI docs, the admin lock-out store), then
// the routes: health, the school API, then, when an admin API is handed in, the scheduler,
// operator and coverage routes and the dashboard page, and /metrics when asked. Nothing here opens
// connections or builds services: the runtime (src/runtime.ts) hands in what it opened, so
// tests can build an app around a database and cache of their own.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { coverageRoutes } from './admin/coverage-routes.ts'
import { adminLockoutPlugin, type AdminLockoutOptions } from './admin/lockout.ts'
import { operatorRoutes } from './admin/operator-routes.ts'
import { adminRoutes } from './admin/routes.ts'
import { dashboardRoutes } from './dashboard/routes.ts'
import type { Database } from './db/database.ts'
import { docsPlugin } from './http/docs.ts'
import { frameworkErrorHandler, registerErrorHandler, schemaErrorFormatter } from './http/error-handler.ts'
import { lazyChildLoggerFactory } from './http/request-logger.ts'
import { httpSecurityPlugin, requestId } from './http/security.ts'
import { healthRoutes, type HealthDependencies } from './operations/health-routes.ts'
import { metricsRoutes } from './operations/metrics.ts'
import type { Runtime } from './runtime.ts'
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
  /** Proxies whose X-Forwarded-For gives request.ip (Fastify trustProxy); none by default. */
  trustedProxies?: readonly string[]
  /** Browser origins allowed by CORS; none by default. */
  corsOrigins?: readonly string[]
  /** The admin API behind its bearer token and lock-out; an app without it serves the public routes only. */
  admin?: AdminApi
  /** GET /metrics (Prometheus); absent: no such route. */
  metrics?: Parameters<typeof metricsRoutes>[1]
}

export interface AdminApi {
  runtime: Runtime
  token: string
  /** Failed authentications per client before 429 (shared through Redis when it is configured). */
  lockout: AdminLockoutOptions
}

export async function buildApp(deps: AppDependencies): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    // Two log lines per request would cost more than serving a cached body; errors are still logged.
    logController: new LogController({ disableRequestLogging: !deps.logRequests }),
    childLoggerFactory: lazyChildLoggerFactory,
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
  if (deps.admin) await app.register(adminLockoutPlugin, deps.admin.lockout)

  // 2. Routes
  await app.register(healthRoutes, { db: deps.db, ...(deps.health ? { components: deps.health } : {}), ...(deps.instance ? { instance: deps.instance } : {}), ...(deps.ready ? { ready: deps.ready } : {}) })
  await app.register(schoolRoutes, { reads: deps.reads, ...(deps.recordRead ? { recordRead: deps.recordRead } : {}) })
  if (deps.admin) {
    const { runtime, token } = deps.admin
    await app.register(adminRoutes, { runtime, token })
    await app.register(operatorRoutes, { runtime, token })
    await app.register(coverageRoutes, { runtime, token })
    await app.register(dashboardRoutes)
  }
  if (deps.metrics) await app.register(metricsRoutes, deps.metrics)
  return app
}
