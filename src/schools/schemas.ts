// JSON schemas of the school API: Fastify validates every request against them (unknown
// parameters, wrong types and out-of-range numbers get 400 before any handler runs) and
// @fastify/swagger publishes them at /docs.
import { MAX_SEARCH_LENGTH, NO_CONTROL_CHARACTERS } from '../http/input.ts'
import { DEFAULT_PAGE_SIZE, FILTER_FIELDS, FILTERS, ITEM_CODED_FIELDS, LEVELS, MAX_PAGE_SIZE, type Level } from './model.ts'

const codeList = (description: string) => ({
  description: `${description}. Repeat the parameter or give a comma list to accept any of several codes.`,
  type: 'array',
  maxItems: 20,
  items: { type: 'string', pattern: '^[a-z0-9-]{1,60}(,[a-z0-9-]{1,60}){0,19}$' },
})

export function listQuerySchema(level: Level) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      page: { type: 'integer', minimum: 1, maximum: 10_000, default: 1, description: 'Page number, from 1' },
      pageSize: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `Items per page, at most ${MAX_PAGE_SIZE}` },
      q: { type: 'string', minLength: 1, maxLength: MAX_SEARCH_LENGTH, pattern: NO_CONTROL_CHARACTERS, description: `Name search, English or Chinese: 1 to ${MAX_SEARCH_LENGTH} characters, no control characters` },
      ...Object.fromEntries(FILTERS.filter((filter) => (filter.levels as readonly Level[]).includes(level)).map((filter) => [filter.field, codeList(filter.description)])),
    },
  }
}

const labelled = {
  type: 'object',
  properties: { code: { type: 'string' }, en: { type: 'string' }, zh: { type: 'string' } },
}

const nullableLabelled = { ...labelled, nullable: true }

export const schoolItemSchema = {
  type: 'object',
  properties: {
    schoolNo: { type: 'string', description: '12-digit EDB school number: one school at one site and session' },
    schoolId: { type: 'string', description: 'First 6 digits: the school' },
    level: { type: 'string', enum: ['primary', 'secondary'] },
    nameEn: { type: 'string' },
    nameZh: { type: 'string' },
    addressEn: { type: 'string', nullable: true },
    addressZh: { type: 'string', nullable: true },
    // A field of every level is on every school; one of some levels is null on the others'.
    ...Object.fromEntries(ITEM_CODED_FIELDS.map((field) => [field, LEVELS.every((level) => FILTER_FIELDS[level].includes(field)) ? labelled : nullableLabelled])),
    phone: { type: 'string', nullable: true },
    website: { type: 'string', nullable: true },
    latitude: { type: 'number', nullable: true },
    longitude: { type: 'number', nullable: true },
  },
}

export const listResponseSchema = {
  type: 'object',
  properties: {
    items: { type: 'array', items: schoolItemSchema },
    page: { type: 'integer' },
    pageSize: { type: 'integer' },
    total: { type: 'integer' },
    totalPages: { type: 'integer' },
  },
}

export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, parameter: { type: 'string' } },
}

export const schoolNoParams = {
  type: 'object',
  additionalProperties: false,
  required: ['schoolNo'],
  properties: { schoolNo: { type: 'string', pattern: '^[0-9]{12}$', description: '12-digit EDB school number' } },
}

export const filtersQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['level'],
  properties: { level: { type: 'string', enum: ['primary', 'secondary'] } },
}

export const emptyQuerySchema = { type: 'object', additionalProperties: false, properties: {} }
