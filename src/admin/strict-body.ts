// Admin requests are commands: a body is taken as sent or refused. Public query strings are
// coerced (everything in a URL is a string), but an admin body of `{"async":"true"}` or
// `{"type":["stats"]}` is a mistake to report, not to guess at. This plugin-scoped validator has
// no type coercion, and a body that is not JSON is refused before parsing, with what to send.
import { Ajv } from 'ajv'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { UnsupportedMediaTypeError } from '../errors.ts'

export function useStrictValidation(app: FastifyInstance): void {
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false })
  // Query strings and path parameters are text in a URL: coerced as on the public routes (app.ts).
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false })
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema))
}

/** onRequest hook: a request that carries a body must say it is JSON. A POST without a body is fine. */
export async function requireJsonBody(request: FastifyRequest): Promise<void> {
  const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined
  if (!hasBody) return
  const contentType = request.headers['content-type']
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase()
  if (mediaType !== 'application/json') throw new UnsupportedMediaTypeError(contentType)
}
