// The API's shapes and the list query, shared by the repository, routes and warm targets.

export type Level = 'primary' | 'secondary'
export const LEVELS: readonly Level[] = ['primary', 'secondary']

export interface Labelled {
  code: string
  en: string
  zh: string
}

export interface FilterOption extends Labelled {
  count: number
}

/**
 * The one declaration of the filter fields, in the order the filters endpoint lists them. Each is
 * a code column: of `schools` (labels in its `<column>_en` / `<column>_zh` beside it, `labels:
 * 'row'`), or of another table with labels of its own (school nets, bands). From this list come
 * the API's parameters and item fields, the list query's columns, and the generated schema: the
 * list indexes, the school_filter_codes view and the code_labels refresh (filter-schema.ts). A new
 * filter field is a line here plus a migration that adds (and fills) its columns.
 */
export const FILTERS = [
  { field: 'district', levels: ['primary', 'secondary'], table: 'schools', column: 'district', labels: 'row', description: 'District code, e.g. kowloon-city' },
  { field: 'schoolNet', levels: ['primary'], table: 'schools', column: 'school_net', labels: 'school_nets', description: 'Primary One Admission school net, e.g. 41' },
  { field: 'banding', levels: ['secondary'], table: 'secondary_banding', column: 'band', labels: 'bands', description: 'Secondary banding code supplied by the operator, e.g. 1a' },
  { field: 'category', levels: ['primary', 'secondary'], table: 'schools', column: 'category', labels: 'row', description: 'Finance type code: aided, government, dss, private, esf, caput, pis' },
  { field: 'schoolGroup', levels: ['primary', 'secondary'], table: 'schools', column: 'school_group', labels: 'row', description: 'EDB category code, e.g. aided-primary-schools' },
  { field: 'gender', levels: ['primary', 'secondary'], table: 'schools', column: 'gender', labels: 'row', description: 'boys, girls or co-ed' },
  { field: 'religion', levels: ['primary', 'secondary'], table: 'schools', column: 'religion', labels: 'row', description: 'Religion code, e.g. catholicism; none for no religion' },
  { field: 'session', levels: ['primary', 'secondary'], table: 'schools', column: 'session', labels: 'row', description: 'whole-day, am, pm or evening' },
] as const satisfies readonly {
  field: string
  levels: readonly Level[]
  table: 'schools' | 'secondary_banding'
  column: string
  labels: 'row' | 'school_nets' | 'bands'
  description: string
}[]

export type FilterDeclaration = (typeof FILTERS)[number]
export type FilterField = FilterDeclaration['field']

/** Filter fields per level, in the order the filters endpoint lists them. */
export const FILTER_FIELDS: Record<Level, readonly FilterField[]> = {
  primary: fieldsOf('primary'),
  secondary: fieldsOf('secondary'),
}

function fieldsOf(level: Level): FilterField[] {
  return FILTERS.filter((filter) => (filter.levels as readonly Level[]).includes(level)).map((filter) => filter.field)
}

/**
 * The coded fields of a school item in the order its JSON has always had them (cached bodies and
 * their ETags are these bytes); a field declared in FILTERS but not listed here follows them.
 */
const ITEM_ORDER: readonly FilterField[] = ['district', 'category', 'schoolGroup', 'gender', 'session', 'religion', 'schoolNet', 'banding']
export const ITEM_CODED_FIELDS: readonly FilterField[] = [...ITEM_ORDER, ...FILTERS.map((filter) => filter.field).filter((field) => !ITEM_ORDER.includes(field))]

export const DEFAULT_PAGE_SIZE = 20
export const MAX_PAGE_SIZE = 100

export interface ListQuery {
  level: Level
  page: number
  pageSize: number
  /** Per field, the accepted codes (OR within a field, AND across fields). */
  filters: Partial<Record<FilterField, string[]>>
  q?: string
}

export interface ListPage<Item> {
  items: Item[]
  page: number
  pageSize: number
  total: number
  totalPages: number
}

export interface FilterOptions {
  level: Level
  total: number
  filters: Record<string, FilterOption[]>
}
