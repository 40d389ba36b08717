// The error catalogue: one class per failure, each with a stable code that clients and
// logs can match on, an HTTP status, structured context and the underlying `cause`.
// The HTTP error handler (src/http/error-handler.ts) shows 4xx messages as they are and
// replaces 5xx internals with the code and a generic sentence.

export interface ErrorContext {
  [key: string]: unknown
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError
}

export abstract class AppError extends Error {
  abstract readonly code: string
  abstract readonly statusCode: number
  readonly context: ErrorContext

  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.context = context
  }

  /** Shape sent to HTTP clients. 5xx errors never reach here unfiltered. */
  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.publicContext() }
  }

  protected publicContext(): ErrorContext {
    return {}
  }
}

/** A configuration variable has an invalid value. Raised at start, never over HTTP. */
export class ConfigError extends AppError {
  readonly code = 'E_CONFIG'
  readonly statusCode = 500
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`, { variable })
  }
}

/** A request parameter is well-formed JSON-schema-wise but not acceptable (unknown code, page past the end). */
export class InvalidParameterError extends AppError {
  readonly code = 'E_INVALID_PARAMETER'
  readonly statusCode = 400
  constructor(readonly parameter: string, problem: string, context: ErrorContext = {}) {
    super(`${parameter}: ${problem}`, { parameter, ...context })
  }
  protected override publicContext(): ErrorContext {
    return { parameter: this.parameter }
  }
}

export class NotFoundError extends AppError {
  readonly code = 'E_NOT_FOUND'
  readonly statusCode = 404
  constructor(what: string, id: string) {
    super(`${what} '${id}' not found`, { what, id })
  }
}

export class UnauthorizedError extends AppError {
  readonly code = 'E_UNAUTHORIZED'
  readonly statusCode = 401
  constructor(reason: string) {
    super(reason)
  }
}

/** An address failed authentication too often; it may retry after the window. */
export class TooManyAttemptsError extends AppError {
  readonly code = 'E_TOO_MANY_ATTEMPTS'
  readonly statusCode = 429
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many failed attempts; retry in ${retryAfterSeconds} s`, { retryAfterSeconds })
  }
}

/** The database did not answer (down, timed out) and no cached value could stand in. */
export class DatabaseUnavailableError extends AppError {
  readonly code = 'E_DATABASE_UNAVAILABLE'
  readonly statusCode = 503
  constructor(cause: unknown, context: ErrorContext = {}) {
    super('The database is unavailable; try again shortly', context, { cause })
  }
  override toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message }
  }
}

/** An import file is malformed; names the file, line and field so the operator can fix it. */
export class ImportFileError extends AppError {
  readonly code = 'E_IMPORT_FILE'
  readonly statusCode = 400
  constructor(file: string, line: number | undefined, field: string | undefined, problem: string, options?: { cause?: unknown }) {
    const where = [line !== undefined ? `line ${line}` : undefined, field !== undefined ? `field '${field}'` : undefined]
      .filter(Boolean)
      .join(', ')
    super(`${file}${where ? ` (${where})` : ''}: ${problem}`, { file, line, field }, options)
  }
}

/** A warmup request names groups the registry does not have; lists the known ones (`all` included). */
export class UnknownWarmupGroupError extends InvalidParameterError {
  constructor(readonly unknownGroups: string[], readonly knownGroups: string[]) {
    const plural = unknownGroups.length === 1 ? '' : 's'
    super('groups', `unknown warmup group${plural} ${unknownGroups.map((group) => `'${group}'`).join(', ')}; known groups: ${knownGroups.join(', ')}`, { unknownGroups, knownGroups })
  }
  protected override publicContext(): ErrorContext {
    return { parameter: this.parameter, unknownGroups: this.unknownGroups, knownGroups: this.knownGroups }
  }
}

export class SchedulerError extends AppError {
  readonly code = 'E_SCHEDULER'
  readonly statusCode = 500
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, context, options)
  }
}


/** Too many database loads are running or waiting in this process; the client may retry shortly. */
export class BusyError extends AppError {
  readonly code = 'E_BUSY'
  readonly statusCode = 503
  constructor(readonly retryAfterSeconds: number, context: ErrorContext = {}) {
    super(`The server is busy; retry in ${retryAfterSeconds} s`, { retryAfterSeconds, ...context })
  }
  override toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message }
  }
}

/** The warmup runner is shutting down and takes no more runs. */
export class WarmupClosedError extends AppError {
  readonly code = 'E_WARMUP_CLOSED'
  readonly statusCode = 503
  constructor() {
    super('The warmup runner is shutting down')
  }
}

/**
 * A queued (BullMQ) run failed as a whole: the job's processor throws it so BullMQ retries the
 * job with backoff. The message is the job's failedReason, shown as the last tick's error.
 */
export class WarmupRunFailedError extends AppError {
  readonly code = 'E_WARMUP_RUN_FAILED'
  readonly statusCode = 500
  constructor(result: { runId: string; status: string; failed: number; keys: number }) {
    super(`warmup run ${result.runId} ${result.status}: ${result.failed}/${result.keys} keys failed`, { runId: result.runId, status: result.status, failed: result.failed, keys: result.keys })
  }
}

// --- Deployment and admin API (issue 9) ---

/** The shared warmup queue (Redis) stopped answering while a run was being queued. */
export class SchedulerUnavailableError extends AppError {
  readonly code = 'E_SCHEDULER_UNAVAILABLE'
  readonly statusCode = 503
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, {}, options)
  }
}

/** A request body sent as something other than JSON. */
export class UnsupportedMediaTypeError extends AppError {
  readonly code = 'E_UNSUPPORTED_MEDIA_TYPE'
  readonly statusCode = 415
  constructor(received: string | undefined) {
    super(`Send the body as JSON with the header 'content-type: application/json' (received ${received ? `'${received}'` : 'no content-type'})`, { received })
  }
}

/** A cluster worker could not collect the deployment's metrics from the primary in time. */
export class MetricsUnavailableError extends AppError {
  readonly code = 'E_METRICS_UNAVAILABLE'
  readonly statusCode = 503
  constructor(reason: string) {
    super(`The deployment's metrics could not be collected: ${reason}`)
  }
}

// --- Operations (embedded database lock, CLI reaching the server) ---

/** Another live process holds the embedded database directory; two writers would corrupt it. */
export class DatabaseLockedError extends AppError {
  readonly code = 'E_DATABASE_LOCKED'
  readonly statusCode = 500
  constructor(readonly dataDir: string, readonly holderPid: number, lockFile: string) {
    super(
      `The embedded database ${dataDir} is in use by process ${holderPid} (lock ${lockFile}). ` +
        'Only one process may open it: stop that server first, or run the command while it runs and the CLI sends it to the server ' +
        '(it finds the server through its runtime file, or give --url and ADMIN_TOKEN).',
      { dataDir, holderPid, lockFile },
    )
  }
}

/** The embedded database directory exists but PGlite cannot open it (damaged, another version). */
export class DatabaseUnopenableError extends AppError {
  readonly code = 'E_DATABASE_UNOPENABLE'
  readonly statusCode = 500
  constructor(readonly dataDir: string, cause: unknown) {
    super(
      // PGlite's own message is a WebAssembly abort that says nothing to an operator; it stays in `cause`.
      `The embedded database in ${dataDir} cannot be opened: the directory is damaged or was written by another PGlite version. ` +
        'Nothing was changed or deleted. Restore the directory from a backup, or move it aside and start again to create a new ' +
        'database (`schools import` and the banding/windows imports then reload the data).',
      { dataDir },
      { cause },
    )
  }
}

/** The CLI could not reach the server it was pointed at, or the server refused the request. */
export class ServerRequestError extends AppError {
  readonly code = 'E_SERVER_REQUEST'
  readonly statusCode: number
  constructor(message: string, readonly url: string, status = 502, options?: { cause?: unknown }) {
    super(message, { url, status }, options)
    // 4xx answers stay 4xx (the CLI exits 2 for a usage problem); anything else is a failure.
    this.statusCode = status >= 400 && status < 500 ? status : 502
  }
}
