// How src/config.ts's schema is read: the schema builders and string formats the variables use
// (each format with its check and the words an error uses for it), the env-schema call, whose Ajv
// errors become one ConfigError line naming the variable and what it allows, and the SCHEDULE
// parser. Kept apart so the config module is the list of settings and nothing else.
import { isIP } from 'node:net'
import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox'
import { Ajv, type ErrorObject } from 'ajv'
import { Cron } from 'croner'
import envSchema from 'env-schema'
import { ConfigError } from './errors.ts'

export type RawEnv = Record<string, string | undefined>

export interface ScheduleJob {
  name: string
  cron: string
  groups: string[]
}

/** A comma list's entries, trimmed, empty ones dropped; unset is []. */
export function listEntries(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
}

const FORMATS = {
  'sql-identifier': { allowed: 'a lowercase SQL identifier', valid: (value: string) => /^[a-z_][a-z0-9_]{0,62}$/.test(value) },
  // Every Redis key and queue of the deployment starts with it, and SCAN patterns match it: no spaces or glob characters.
  'redis-prefix': {
    allowed: "1 to 100 letters, digits, '_', '.', ':' or '-' starting with a letter or digit",
    valid: (value: string) => /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/.test(value),
  },
  'time-zone': { allowed: 'a known IANA time zone such as Asia/Hong_Kong', valid: isTimeZone },
  'postgres-url': { allowed: 'a postgres: or postgresql: URL', valid: urlWith('postgres:', 'postgresql:') },
  'redis-url': { allowed: 'a redis: or rediss: URL', valid: urlWith('redis:', 'rediss:') },
  'http-url': { allowed: 'an http: or https: URL', valid: urlWith('http:', 'https:') },
  'proxy-list': {
    allowed: 'a comma list of IP addresses, CIDR ranges, loopback, linklocal or uniquelocal',
    valid: (value: string) => listEntries(value).every(isProxyAddress),
  },
  'origin-list': {
    allowed: 'a comma list of origins such as https://schools.example.org (scheme, host and port only)',
    valid: (value: string) => listEntries(value).every(isOrigin),
  },
} satisfies Record<string, { allowed: string; valid: (value: string) => boolean }>

// Schema builders: what each variable may hold is a JSON schema, its TypeScript type inferred from it.
export const int = (fallback: number, minimum: number, maximum: number) => Type.Integer({ default: fallback, minimum, maximum })
export const flag = (fallback: boolean) => Type.Boolean({ default: fallback })
export const oneOf = <const T extends readonly string[]>(values: T, fallback?: T[number]) => Type.Unsafe<T[number]>({ type: 'string', enum: values, ...(fallback === undefined ? {} : { default: fallback }) })
/** `writeOnly` (a secret, or a URL that may hold a password): an error never repeats the value. */
export const formatted = (format: keyof typeof FORMATS, options: { default?: string; writeOnly?: boolean } = {}) => Type.String({ format, ...options })

/** The words 'must be ...' of an error, from the variable's schema. */
function allowed(schema: TSchema): string {
  if (typeof schema.format === 'string' && schema.format in FORMATS) return FORMATS[schema.format as keyof typeof FORMATS].allowed
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.join(', ')}`
  if (schema.type === 'integer') return `an integer from ${schema.minimum} to ${schema.maximum}`
  if (schema.type === 'number') return `a number from ${schema.minimum} to ${schema.maximum}`
  if (schema.type === 'boolean') return 'true or false'
  if (typeof schema.minLength === 'number') return `at least ${schema.minLength} characters`
  return `of type ${String(schema.type)}`
}

const BOOLEAN_WORDS: Record<string, string> = { true: 'true', 1: 'true', yes: 'true', on: 'true', false: 'false', 0: 'false', no: 'false', off: 'false' }

// One Ajv, made on first use: env-schema's own options (coerce the strings, fill in defaults, drop
// variables the schema lacks) plus our formats. Handing env-schema the instance, rather than
// `customOptions`, compiles the schema once instead of on every call (tens of ms each); env-schema
// recognises it by `instanceof`, so package.json pins the one ajv both share. The validator
// runs once per process, so neither checking the TypeBox-built schema against the meta-schema nor
// optimising the generated code pays for itself: together they were about half of the compile.
let ajv: Ajv | undefined
function ajvWithFormats(): Ajv {
  if (ajv) return ajv
  ajv = new Ajv({
    allErrors: true, removeAdditional: true, useDefaults: true, coerceTypes: true, allowUnionTypes: true, addUsedSchema: false,
    validateSchema: false, code: { optimize: false },
  })
  for (const [name, format] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: format.valid })
  return ajv
}

/**
 * The environment checked against `schema`, coerced, with defaults filled in, or a ConfigError
 * naming the first bad variable. An empty value is unset, except for the variables in
 * `emptyIsValue`; booleans also read 1/0, yes/no and on/off, in any case.
 */
export function readEnv<T extends TObject>(schema: T, raw: RawEnv, emptyIsValue: readonly string[] = []): Static<T> {
  const data: Record<string, string> = {}
  for (const [name, property] of Object.entries(schema.properties)) {
    const value = raw[name]
    if (value === undefined || (value === '' && !emptyIsValue.includes(name))) continue
    data[name] = property.type === 'boolean' ? BOOLEAN_WORDS[value.toLowerCase()] ?? value : value
  }
  try {
    return envSchema<Static<T>>({ schema, data, env: false, ajv: ajvWithFormats() })
  } catch (error) {
    const errors = (error as { errors?: ErrorObject[] }).errors ?? []
    const names = [...new Set(errors.map((entry) => entry.instancePath.split('/')[1] ?? ''))].filter((name) => name in schema.properties)
    const [name, ...others] = names
    if (name === undefined) throw error
    const property = schema.properties[name]!
    const got = property.writeOnly === true ? '' : `, got '${data[name]}'`
    const more = others.length > 0 ? ` (also invalid: ${others.join(', ')})` : ''
    throw new ConfigError(name, `must be ${allowed(property)}${got}${more}`)
  }
}

/**
 * SCHEDULE: `name=cron=group+group;name=cron=group`, e.g. `nightly=0 3 * * *=all;lists=0 12 * * *=primary+secondary`;
 * undefined when blank (the default jobs). Everything but whether a group exists (the warm target
 * registry knows that) is checked here, at start: names, cron expressions in the time zone, duplicates.
 */
export function parseSchedule(raw: string | undefined, zone: string): ScheduleJob[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined
  const names = new Set<string>()
  return raw.split(';').filter((part) => part.trim() !== '').map((part) => {
    const [name, cron, groups, ...extra] = part.split('=').map((piece) => piece.trim())
    if (!name || !cron || !groups || extra.length > 0 || !/^[a-z0-9-]+$/i.test(name)) {
      throw new ConfigError('SCHEDULE', `entry '${part}' must look like name=cron=group+group (name: letters, digits, '-')`)
    }
    if (names.has(name)) throw new ConfigError('SCHEDULE', `names job '${name}' twice`)
    names.add(name)
    let next: Date | null
    try {
      const parsed = new Cron(cron, { timezone: zone, paused: true })
      next = parsed.nextRun()
      parsed.stop()
    } catch (error) {
      throw new ConfigError('SCHEDULE', `job '${name}' has an invalid cron expression '${cron}': ${error instanceof Error ? error.message : String(error)}`)
    }
    if (next === null) throw new ConfigError('SCHEDULE', `job '${name}': cron expression '${cron}' never fires`)
    const list = groups.split('+').map((group) => group.trim()).filter(Boolean)
    if (list.length === 0 || list.some((group) => !/^[a-z0-9-]+$/i.test(group))) {
      throw new ConfigError('SCHEDULE', `job '${name}' must name warmup groups joined by '+', got '${groups}'`)
    }
    return { name, cron, groups: list }
  })
}

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: value })
    return true
  } catch {
    return false
  }
}

function urlWith(...protocols: string[]): (value: string) => boolean {
  return (value) => URL.canParse(value) && protocols.includes(new URL(value).protocol)
}

function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true
  const [address = '', bits, ...rest] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
}

function isOrigin(entry: string): boolean {
  return URL.canParse(entry) && ['http:', 'https:'].includes(new URL(entry).protocol) && new URL(entry).origin === entry
}
