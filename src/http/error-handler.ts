// The one HTTP error handler. Client errors (4xx) are shown as they are, with a stable code;
// server errors are logged in full and answered with the code and a generic sentence only,
// so no stack, SQL or hostname ever reaches a client.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import type { SchemaErrorDataVar } from 'fastify/types/schema.js'
import { BusyError, isAppError } from '../errors.ts'
import { NO_CONTROL_CHARACTERS } from './input.ts'

interface ValidationFailure extends Error {
  statusCode: number
  parameter: string
}

/** Names the parameter and the reason in every schema error, including unknown parameters. */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  const first = errors[0]
  const params = (first?.params ?? {}) as Record<string, unknown>
  const path = (first?.instancePath ?? '').replace(/^\//, '').replace(/\/\d+$/, '').replace(/\//g, '.')
  let parameter = path || String(params.missingProperty ?? '') || dataVar
  let reason = first?.message ?? 'is invalid'
  if (first?.keyword === 'additionalProperties') {
    parameter = path ? `${path}.${String(params.additionalProperty)}` : String(params.additionalProperty)
    reason = dataVar === 'querystring' ? 'is not a known parameter' : 'is not a known field'
  } else if (first?.keyword === 'pattern' && params.pattern === NO_CONTROL_CHARACTERS) {
    reason = 'must not contain control characters'
  } else if (first?.keyword === 'required') {
    parameter = String(params.missingProperty)
    reason = 'is required'
  } else if (first?.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    reason = `must be one of ${params.allowedValues.map((value) => `'${String(value)}'`).join(', ')}`
  }
  const error = new Error(`${dataVar} ${parameter}: ${reason}`) as ValidationFailure
  error.statusCode = 400
  error.parameter = parameter
  return error
}

/**
 * Errors Fastify raises before routing (a URL that is not valid percent-encoded UTF-8) bypass
 * the error handler; this gives them the same `{ error, message }` shape as every other error.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode ?? 400
  void reply.header('x-request-id', request.id)
  void reply.status(status).send(status < 500
    ? { error: error.code === 'FST_ERR_BAD_URL' ? 'E_BAD_URL' : (error.code ?? 'E_BAD_REQUEST'), message: error.message }
    : { error: 'E_INTERNAL', message: 'Internal server error' })
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { parameter?: string }, request, reply) => {
    if (isAppError(error)) {
      if ('retryAfterSeconds' in error && typeof error.retryAfterSeconds === 'number') void reply.header('retry-after', String(error.retryAfterSeconds))
      // Shed load is expected under a burst and counted in /metrics: a log line each would be a cost of its own.
      if (error instanceof BusyError) request.log.debug({ context: error.context }, error.message)
      else if (error.statusCode >= 500) request.log.error({ err: error, cause: error.cause, context: error.context }, error.message)
      void reply.status(error.statusCode).send(error.toJSON())
      return
    }
    const status = error.statusCode ?? 500
    if (status < 500) {
      const code = error.validation ? 'E_VALIDATION' : (error.code ?? 'E_BAD_REQUEST')
      void reply.status(status).send({ error: code, message: error.message, ...(error.parameter ? { parameter: error.parameter } : {}) })
      return
    }
    request.log.error({ err: error }, 'unhandled error')
    void reply.status(500).send({ error: 'E_INTERNAL', message: 'Internal server error' })
  })
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: 'E_NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}` })
  })
}
