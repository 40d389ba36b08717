// METRICS_TOKEN: when set, /metrics answers only `Authorization: Bearer <token>` (what
// Prometheus sends with `authorization: { credentials: ... }`). Compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { UnauthorizedError } from '../errors.ts'

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

export function metricsGuard(token: string): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const expected = digest(`Bearer ${token}`)
  return async (request) => {
    const given = request.headers.authorization
    // Hashing first makes both sides the same length, so the comparison time says nothing about the token.
    if (given === undefined || !timingSafeEqual(digest(given), expected)) throw new UnauthorizedError('/metrics needs Authorization: Bearer <METRICS_TOKEN>')
  }
}
