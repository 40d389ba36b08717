// Generators of hostile HTTP requests for hostile-input.test.ts: every route, random and
// malicious query strings (huge and negative numbers, SQL and script fragments, invalid UTF-8
// and percent-encoding, repeated parameters, 100 KB values), random bodies and content types,
// and every way of offering (or not offering) the admin token.
import fc from 'fast-check'

export type RouteClass = 'list' | 'detail' | 'filters' | 'stats' | 'health' | 'docs' | 'admin-read' | 'admin-write'

export interface HostileRequest {
  routeClass: RouteClass
  method: 'GET' | 'POST'
  /** Path and raw query string, exactly as sent. */
  url: string
  headers: Record<string, string>
  body: string | Buffer | undefined
  /** Whether the admin guard must let it through: the right bearer token and none in the URL. */
  authorized: boolean
  remoteAddress: string
}

const HUGE = 'x'.repeat(100 * 1024)
const VALID_CODES = ['kowloon-city', 'sha-tin', 'islands', '41', '34', 'aided', 'government', 'dss', 'boys', 'girls', 'co-ed', 'catholicism', 'none', 'whole-day', 'am', 'primary', 'secondary']
const NUMBERS = ['0', '1', '2', '3', '35', '99', '100', '101', '10000', '10001', '-1', '-0', '1.5', '1e3', '1e309', '-1e309', 'Infinity', 'NaN', '0x10', ' 1', '9'.repeat(400), 'true', '']
const ATTACKS = ["' OR 1=1--", "'; DROP TABLE schools;--", '1; SELECT pg_sleep(10)', '<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', '${7*7}', '{{7*7}}', '../../etc/passwd', '\u0000', '%00', '中文', 'ｋｏｗｌｏｏｎ', 'kowloon-city,sha-tin', 'KOWLOON-CITY', 'a,,b', ',', ' ', '\r\nX-Injected: 1']
/** Sent as they are: broken percent-encoding and percent-encoded invalid UTF-8. */
const RAW_BROKEN = ['%', '%zz', '%C3%28', '%FF%FE', '%ED%A0%80', '%E4%B8', '%25%', '%%%', '%C0%AF', '%u0041']
const PARAM_NAMES = ['page', 'pageSize', 'q', 'q', 'district', 'schoolNet', 'banding', 'category', 'schoolGroup', 'gender', 'religion', 'session', 'level', 'token', 'access_token', '__proto__', 'constructor', 'toString', 'page[]', 'district[0]', '', 'x']

function encode(value: string): string {
  try {
    return encodeURIComponent(value)
  } catch {
    return '%ED%A0%80' // a lone surrogate has no UTF-8 form; send the bytes a careless client would
  }
}

/** Every control character (C0, DEL, C1): a NUL reaching PostgreSQL was a 500. */
export const CONTROL_CHARACTERS: readonly string[] = [
  ...Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code)),
  ...Array.from({ length: 0x21 }, (_, offset) => String.fromCharCode(0x7f + offset)),
]

/** Text with control characters somewhere in it: alone, leading, trailing, or inside a name or a code. */
const withControlCharacters: fc.Arbitrary<string> = fc.tuple(
  fc.constantFrom('', 'holy', '中華', 'kowloon-city', 'a'),
  fc.array(fc.constantFrom(...CONTROL_CHARACTERS), { minLength: 1, maxLength: 3 }),
  fc.constantFrom('', 'b', '學校', '-x'),
).map(([before, controls, after]) => `${before}${controls.join('')}${after}`)

// 100 KB values are rare (about one request in 30): each costs a 100 KB URL to build and parse.
const paramValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...VALID_CODES).map(encode) },
  { weight: 15, arbitrary: fc.constantFrom(...NUMBERS).map(encode) },
  { weight: 10, arbitrary: fc.integer({ min: -2_000_000_000, max: 2_000_000_000 }).map(String) },
  { weight: 15, arbitrary: fc.constantFrom(...ATTACKS).map(encode) },
  { weight: 10, arbitrary: fc.constantFrom(...RAW_BROKEN) },
  { weight: 10, arbitrary: withControlCharacters.map(encode) },
  { weight: 10, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(encode) },
  { weight: 5, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }).map(encode) },
  { weight: 1, arbitrary: fc.constant(HUGE) },
)

const paramName: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...PARAM_NAMES) },
  { weight: 1, arbitrary: fc.constantFrom(...RAW_BROKEN) },
  { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map(encode) },
)

/** `name=value` pairs; names repeat often, since there are few of them. */
const queryPairs = fc.array(fc.tuple(paramName, paramValue), { maxLength: 6 })

function queryString(pairs: [string, string][], style: number): string {
  if (pairs.length === 0) return style === 0 ? '?' : ''
  // Style 1: a value-less parameter in front (`?page&...`), style 2: doubled separators.
  const joined = pairs.map(([name, value]) => `${name}=${value}`).join(style === 2 ? '&&' : '&')
  return `?${style === 1 ? 'page&' : ''}${joined}`
}

function pathSegment(knownSchoolNos: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...knownSchoolNos) },
    { weight: 2, arbitrary: fc.stringMatching(/^[0-9]{12}$/) },
    { weight: 2, arbitrary: fc.constantFrom('000000000000', '12345678901', '1234567890123', 'abc', '1e11', '%20', '..%2F..%2Fetc', 'primary%00', "1'OR'1", '-1', ...RAW_BROKEN) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).filter((text) => text !== '').map(encode) },
    { weight: 1, arbitrary: withControlCharacters.map(encode) },
  )
}

const BASE = {
  list: ['/api/schools/primary', '/api/schools/secondary'],
  filters: ['/api/schools/filters'],
  stats: ['/api/schools/stats'],
  health: ['/health'],
  docs: ['/docs/json'],
}

type Auth = 'none' | 'right' | 'wrong' | 'basic' | 'empty-bearer' | 'huge' | 'lowercase-right'

function authorization(auth: Auth, token: string): Record<string, string> {
  switch (auth) {
    case 'none': return {}
    case 'right': return { authorization: `Bearer ${token}` }
    case 'lowercase-right': return { authorization: `bearer ${token}` }
    case 'wrong': return { authorization: `Bearer ${token}x` }
    case 'basic': return { authorization: `Basic ${Buffer.from(`admin:${token}`).toString('base64')}` }
    case 'empty-bearer': return { authorization: 'Bearer ' }
    case 'huge': return { authorization: `Bearer ${'t'.repeat(10_000)}` }
  }
}

// 'right' twice: the admin routes' own validation is only reached with the right token.
const auth: fc.Arbitrary<Auth> = fc.constantFrom<Auth>('none', 'right', 'right', 'wrong', 'basic', 'empty-bearer', 'huge', 'lowercase-right')

/** Warmup bodies: mostly invalid; a valid one starts a real warmup, so they are rare and never `details` (1 316 keys). */
const warmupBody: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 4, arbitrary: fc.record({ type: fc.oneof(fc.constantFrom('everything', 'ALL', '', 'details ', 'stats;', 'all\u0000'), fc.integer(), fc.constant(null)), async: fc.oneof(fc.boolean(), fc.constantFrom('true', 1, null)) }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constantFrom('stats', 'filters'), async: fc.boolean(), extra: fc.jsonValue({ maxDepth: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('stats', 'filters', 'primary'), async: fc.constant(false) }) },
)

const postBody: fc.Arbitrary<{ body: string | Buffer | undefined; contentType: string | undefined }> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(warmupBody, fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON')).map(([value, contentType]) => ({ body: JSON.stringify(value) ?? 'null', contentType })) },
  { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 200 }), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml')).map(([body, contentType]) => ({ body, contentType })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => ({ body: Buffer.concat([Buffer.from('{"type":"'), Buffer.from(bytes), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), contentType: 'application/json' })) },
  { weight: 1, arbitrary: fc.constantFrom<{ body: string | Buffer | undefined; contentType: string | undefined }>(
    { body: undefined, contentType: undefined },
    { body: '', contentType: 'application/json' },
    { body: JSON.stringify({ type: HUGE }), contentType: 'application/json' },
    { body: `{"type":"stats","pad":"${'p'.repeat(70 * 1024)}"}`, contentType: 'application/json' },
    { body: '{"__proto__":{"polluted":true},"type":"stats"}', contentType: 'application/json' },
    { body: '{"constructor":{"prototype":{"polluted":true}}}', contentType: 'application/json' },
    { body: '['.repeat(5000), contentType: 'application/json' },
  ) },
)

/** Requests from a few loopback addresses; an authorized request always comes from 127.0.0.1, which never fails auth. */
export function hostileRequest(knownSchoolNos: readonly string[], token: string): fc.Arbitrary<HostileRequest> {
  const publicGet = fc.tuple(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...BASE.list).map((path) => ({ routeClass: 'list' as const, path })) },
      { weight: 3, arbitrary: pathSegment(knownSchoolNos).map((segment) => ({ routeClass: 'detail' as const, path: `/api/schools/${segment}` })) },
      { weight: 1, arbitrary: fc.constantFrom(...BASE.filters).map((path) => ({ routeClass: 'filters' as const, path })) },
      { weight: 1, arbitrary: fc.constantFrom(...BASE.stats).map((path) => ({ routeClass: 'stats' as const, path })) },
      { weight: 1, arbitrary: fc.constantFrom(...BASE.health).map((path) => ({ routeClass: 'health' as const, path })) },
      { weight: 1, arbitrary: fc.constantFrom(...BASE.docs).map((path) => ({ routeClass: 'docs' as const, path })) },
    ),
    queryPairs,
    fc.integer({ min: 0, max: 5 }),
    fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('*', '"nope"', 'W/"x", "y"', ' , ') }),
    auth,
  ).map(([{ routeClass, path }, pairs, style, ifNoneMatch, offered]): HostileRequest => ({
    routeClass,
    method: 'GET',
    url: `${path}${queryString(pairs, style)}`,
    headers: { ...authorization(offered, token), ...(ifNoneMatch !== undefined ? { 'if-none-match': ifNoneMatch } : {}) },
    body: undefined,
    authorized: false,
    remoteAddress: '127.0.0.2',
  }))

  const admin = fc.tuple(
    fc.oneof(
      { weight: 2, arbitrary: fc.constant({ routeClass: 'admin-read' as const, method: 'GET' as const, path: '/api/scheduler/status' }) },
      { weight: 2, arbitrary: fc.oneof(fc.constantFrom('wu-unknown', 'x', '-bad', 'a'.repeat(150), ...RAW_BROKEN), fc.string({ maxLength: 20 }).filter((text) => text !== '').map(encode)).map((id) => ({ routeClass: 'admin-read' as const, method: 'GET' as const, path: `/api/scheduler/runs/${id}` })) },
      { weight: 3, arbitrary: fc.constantFrom('/api/scheduler/warmup', '/api/scheduler/clear-and-warmup').map((path) => ({ routeClass: 'admin-write' as const, method: 'POST' as const, path })) },
    ),
    fc.oneof({ weight: 4, arbitrary: fc.constant<[string, string][]>([]) }, { weight: 1, arbitrary: queryPairs }),
    auth,
    postBody,
    fc.integer({ min: 2, max: 9 }),
  ).map(([{ routeClass, method, path }, pairs, offered, { body, contentType }, address]): HostileRequest => {
    const tokenInUrl = pairs.some(([name]) => name === 'token' || name === 'access_token')
    const authorized = (offered === 'right' || offered === 'lowercase-right') && !tokenInUrl
    return {
      routeClass,
      method,
      url: `${path}${queryString(pairs, 3)}`,
      headers: { ...authorization(offered, token), ...(method === 'POST' && contentType !== undefined ? { 'content-type': contentType } : {}) },
      body: method === 'POST' ? body : undefined,
      authorized,
      remoteAddress: authorized ? '127.0.0.1' : `127.0.0.${address}`,
    }
  })

  return fc.oneof({ weight: 7, arbitrary: publicGet }, { weight: 3, arbitrary: admin })
}
