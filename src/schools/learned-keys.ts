// Turns a counted cache key back into the read it stands for, checked as a request would be:
// the key must be exactly the canonical key that request builds, every parameter must pass the
// API's bounds, and the codes must exist in the loaded data. What fails is dropped by the
// learned warm target (with the reason), never warmed.
import { InvalidParameterError } from '../errors.ts'
import { FILTER_FIELDS, LEVELS, MAX_PAGE_SIZE, type FilterOptions, type Level, type ListQuery } from './model.ts'
import type { ListRequest, SchoolReads } from './reads.ts'

/** Request classes of the school API, as the statistics and the coverage report name them. */
export const REQUEST_CLASSES = ['lists', 'details', 'filters', 'stats', 'searches'] as const
export type RequestClass = (typeof REQUEST_CLASSES)[number]
/** Each class's index in REQUEST_CLASSES, as RequestStatistics.record takes it. */
export const REQUEST_CLASS_INDEX = Object.fromEntries(REQUEST_CLASSES.map((name, index) => [name, index])) as Record<RequestClass, number>

export type LearnedRead =
  | { kind: 'list'; query: ListQuery }
  | { kind: 'detail'; schoolNo: string }
  | { kind: 'filters'; level: Level }
  | { kind: 'stats' }

const MAX_PAGE = 10_000
const MAX_Q = 100
const SCHOOL_NO = /^[A-Za-z0-9-]{1,40}$/

export function requestClassOfKey(key: string): RequestClass {
  if (key.startsWith('list:')) return /[?&]q=/.test(key) ? 'searches' : 'lists'
  if (key.startsWith('detail:')) return 'details'
  if (key.startsWith('filters:')) return 'filters'
  return 'stats'
}

function isLevel(value: string): value is Level {
  return (LEVELS as readonly string[]).includes(value)
}

/** Throws InvalidParameterError naming what the key asks that a request may not. */
export function parseLearnedKey(reads: SchoolReads, key: string, filterOptions: ReadonlyMap<Level, FilterOptions>): LearnedRead {
  if (key === reads.statsKey) return { kind: 'stats' }
  if (key.startsWith('filters:')) {
    const level = key.slice('filters:'.length)
    if (!isLevel(level)) throw new InvalidParameterError('level', `unknown level '${level}'`)
    return { kind: 'filters', level }
  }
  if (key.startsWith('detail:')) {
    const schoolNo = key.slice('detail:'.length)
    if (!SCHOOL_NO.test(schoolNo)) throw new InvalidParameterError('schoolNo', `'${schoolNo}' is not a school number`)
    return { kind: 'detail', schoolNo }
  }
  if (!key.startsWith('list:')) throw new InvalidParameterError('key', 'is not a key of the school API')
  const [namespace = '', search = ''] = key.split('?', 2)
  const level = namespace.slice('list:'.length)
  if (!isLevel(level)) throw new InvalidParameterError('level', `unknown level '${level}'`)
  const request: ListRequest = { page: 1, pageSize: 20 }
  const allowed = new Set<string>(FILTER_FIELDS[level])
  for (const part of search === '' ? [] : search.split('&')) {
    const [rawName = '', rawValues = ''] = part.split('=', 2)
    const name = decodeURIComponent(rawName)
    const values = rawValues.split(',').map((value) => decodeURIComponent(value))
    if (name === 'page' || name === 'pageSize') {
      const number = Number(values[0])
      const max = name === 'page' ? MAX_PAGE : MAX_PAGE_SIZE
      if (values.length !== 1 || !Number.isInteger(number) || number < 1 || number > max) throw new InvalidParameterError(name, `must be an integer from 1 to ${max}`)
      request[name] = number
    } else if (name === 'q') {
      if (values.length !== 1 || values[0]!.length > MAX_Q) throw new InvalidParameterError('q', `must be one text of at most ${MAX_Q} characters`)
      request.q = values[0]!
    } else if (allowed.has(name)) {
      request[name] = values
    } else {
      throw new InvalidParameterError(name, `is not a filter of ${level} schools`)
    }
  }
  const query = reads.parseListRequest(level, request)
  if (reads.listKey(query) !== key) throw new InvalidParameterError('key', 'is not in canonical form')
  const options = filterOptions.get(level)
  if (options) reads.assertKnownCodesIn(query, options)
  return { kind: 'list', query }
}
