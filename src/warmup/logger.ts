// The slice of a pino logger the warmup module uses. Declared here rather than importing
// pino's Logger so callers (and tests) can pass a child logger, Fastify's logger or a stub.

export interface WarmupLogger {
  debug(object: object, message?: string): void
  info(object: object, message?: string): void
  warn(object: object, message?: string): void
  error(object: object, message?: string): void
}

/** Error text for logs and summaries: the message, never a stack (summaries go to HTTP clients). */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name
  return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error)
}
