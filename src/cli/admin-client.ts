// The CLI's client for the running server's admin API (bearer token). node:http rather than
// fetch: an import answers only after the server's re-warm, which may outlast fetch's fixed
// five-minute header timeout.
import http from 'node:http'
import https from 'node:https'
import { ServerRequestError } from '../errors.ts'

export interface AdminClient {
  readonly url: string
  /** JSON in, JSON out; throws ServerRequestError with the server's own message on an error status. */
  request<T>(method: 'GET' | 'POST', urlPath: string, body?: unknown, options?: { timeoutMs?: number }): Promise<T>
  /** Like request, but resolves undefined on 404 (a run not recorded yet, a route this server lacks). */
  find<T>(urlPath: string): Promise<T | undefined>
}

const DEFAULT_TIMEOUT_MS = 15 * 60_000

export function adminClient(baseUrl: string, token: string): AdminClient {
  const base = new URL(baseUrl)
  const call = <T>(method: 'GET' | 'POST', urlPath: string, body: unknown, timeoutMs: number): Promise<{ status: number; json: T }> => new Promise((resolve, reject) => {
    const target = new URL(urlPath, base)
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const request = (target.protocol === 'https:' ? https : http).request(target, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}) },
      timeout: timeoutMs,
    }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('error', reject)
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown
        try {
          json = text ? JSON.parse(text) : undefined
        } catch {
          json = { message: text.slice(0, 500) }
        }
        resolve({ status: response.statusCode ?? 0, json: json as T })
      })
    })
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    request.on('error', (error) => reject(new ServerRequestError(`cannot reach the server at ${base.origin}: ${error.message}`, base.origin, 502, { cause: error })))
    request.end(payload)
  })
  const fail = (method: string, urlPath: string, status: number, json: unknown): never => {
    const answer = (json ?? {}) as { error?: string; message?: string }
    throw new ServerRequestError(`server ${base.origin} answered ${method} ${urlPath} with ${status}${answer.error ? ` ${answer.error}` : ''}: ${answer.message ?? 'no message'}`, base.origin, status)
  }
  return {
    url: base.origin,
    async request<T>(method: 'GET' | 'POST', urlPath: string, body?: unknown, options: { timeoutMs?: number } = {}) {
      const { status, json } = await call<T>(method, urlPath, body, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
      if (status < 200 || status >= 300) fail(method, urlPath, status, json)
      return json
    },
    async find<T>(urlPath: string) {
      const { status, json } = await call<T>('GET', urlPath, undefined, DEFAULT_TIMEOUT_MS)
      if (status === 404) return undefined
      if (status < 200 || status >= 300) fail('GET', urlPath, status, json)
      return json
    },
  }
}

/** Whether anything answers HTTP at `baseUrl` (any status: a degraded server still takes commands). */
export function answers(baseUrl: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const target = new URL('/health', baseUrl)
    const request = (target.protocol === 'https:' ? https : http).get(target, { timeout: timeoutMs }, (response) => {
      response.resume()
      resolve(true)
    })
    request.on('timeout', () => request.destroy(new Error('timeout')))
    request.on('error', () => resolve(false))
  })
}
