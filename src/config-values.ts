// The value checks of src/config.ts: each reads one variable, or refuses it with a ConfigError
// that names it. Kept apart so the config module is the list of settings and nothing else.
import { isIP } from 'node:net'
import { ConfigError } from './errors.ts'

export type Env = Record<string, string | undefined>

export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max}, got '${raw}'`)
  }
  return value
}

export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (/^(1|true|yes|on)$/i.test(raw)) return true
  if (/^(0|false|no|off)$/i.test(raw)) return false
  throw new ConfigError(name, `must be true or false, got '${raw}'`)
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got '${raw}'`)
  }
  return raw as T
}

export function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name]
  if (raw === undefined || raw === '') return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(name, 'is not a valid URL')
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got '${parsed.protocol}'`)
  }
  return raw
}

export function timeZone(env: Env, name: string, fallback: string): string {
  const value = env[name] || fallback
  try {
    new Intl.DateTimeFormat('en', { timeZone: value })
  } catch {
    throw new ConfigError(name, `is not a known IANA time zone: '${value}'`)
  }
  return value
}

export function identifier(env: Env, name: string, fallback: string): string {
  const value = env[name] || fallback
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) {
    throw new ConfigError(name, `must be a lowercase SQL identifier, got '${value}'`)
  }
  return value
}

export function token(env: Env, name: string): string | undefined {
  const value = env[name] || undefined
  if (value !== undefined && value.length < 16) throw new ConfigError(name, 'must be at least 16 characters')
  return value
}

/** A share from 0 to 1 (request statistics). */
export function fraction(env: Env, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new ConfigError(name, `must be a number from 0 to 1, got '${raw}'`)
  return value
}

/** A comma list whose every entry passes `valid`; empty or unset is []. */
export function list(env: Env, name: string, valid: (entry: string) => boolean, what: string): string[] {
  const entries = (env[name] ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '')
  const bad = entries.find((entry) => !valid(entry))
  if (bad !== undefined) throw new ConfigError(name, `entry '${bad}' is not ${what}`)
  return entries
}

export function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true
  const [address = '', bits, ...rest] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
}

export function isOrigin(entry: string): boolean {
  try {
    const parsed = new URL(entry)
    return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.origin === entry
  } catch {
    return false
  }
}
