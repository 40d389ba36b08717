// Bearer-token guard for the admin API. Tokens are compared as SHA-256 digests with
// timingSafeEqual (constant time, whatever the lengths); a token offered in the query string
// is refused, since URLs end up in logs; and an address that keeps failing is rate limited.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { TooManyAttemptsError, UnauthorizedError } from '../errors.ts'

export function generateAdminToken(): string {
  return randomBytes(24).toString('base64url')
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

export interface AdminGuardOptions {
  token: string
  /** Failed attempts allowed per address within the window before 429. */
  maxFailures?: number
  windowMs?: number
  now?: () => number
}

export function adminGuard(options: AdminGuardOptions): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const expected = digest(options.token)
  const maxFailures = options.maxFailures ?? 20
  const windowMs = options.windowMs ?? 60_000
  const now = options.now ?? Date.now
  const failures = new Map<string, { count: number; since: number }>()

  return async (request, reply) => {
    const address = request.ip
    const record = failures.get(address)
    if (record && now() - record.since > windowMs) failures.delete(address)
    const current = failures.get(address)
    if (current && current.count >= maxFailures) {
      const retryAfter = Math.ceil((current.since + windowMs - now()) / 1000)
      void reply.header('retry-after', String(retryAfter))
      throw new TooManyAttemptsError(retryAfter)
    }
    const fail = (reason: string): never => {
      const entry = failures.get(address) ?? { count: 0, since: now() }
      entry.count += 1
      failures.set(address, entry)
      // Bound the map: a flood of addresses cannot grow memory without limit.
      if (failures.size > 10_000) failures.delete(failures.keys().next().value!)
      void reply.header('www-authenticate', 'Bearer realm="admin"')
      throw new UnauthorizedError(reason)
    }
    const query = request.query as Record<string, unknown> | undefined
    if (query && ('token' in query || 'access_token' in query)) fail('Send the token in the Authorization header, not the URL')
    const header = request.headers.authorization
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    if (!match) fail('Missing bearer token')
    if (!timingSafeEqual(digest(match![1]!), expected)) fail('Invalid bearer token')
    failures.delete(address)
  }
}
