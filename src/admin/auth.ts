// Bearer-token guard for the admin API. Tokens are compared as SHA-256 digests with
// timingSafeEqual (constant time, whatever the lengths); a token offered in the query string
// is refused, since URLs end up in logs. Each failure is counted for the client that made it
// (src/admin/lockout.ts, which the app must register); past the limit that client's failures
// get 429 instead of 401. The right token is never counted and never refused.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { TooManyAttemptsError, UnauthorizedError } from '../errors.ts'

export function generateAdminToken(): string {
  return randomBytes(24).toString('base64url')
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

export interface AdminGuardOptions {
  token: string
}

export function adminGuard(options: AdminGuardOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const expected = digest(options.token)

  const fail = async (request: FastifyRequest, reply: FastifyReply, reason: string): Promise<never> => {
    const record = request.server.recordAdminFailure
    if (!record) throw new Error('adminGuard needs adminLockoutPlugin registered on the app')
    const { locked, retryAfterSeconds } = await record(request)
    if (locked) {
      void reply.header('retry-after', String(retryAfterSeconds))
      throw new TooManyAttemptsError(retryAfterSeconds)
    }
    void reply.header('www-authenticate', 'Bearer realm="admin"')
    throw new UnauthorizedError(reason)
  }

  return async (request, reply) => {
    const query = request.query as Record<string, unknown> | undefined
    if (query && ('token' in query || 'access_token' in query)) await fail(request, reply, 'Send the token in the Authorization header, not the URL')
    const header = request.headers.authorization
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    if (!match) return fail(request, reply, 'Missing bearer token')
    if (!timingSafeEqual(digest(match[1]!), expected)) await fail(request, reply, 'Invalid bearer token')
  }
}
