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

/** Filter fields per level, in the order the filters endpoint lists them. */
export const FILTER_FIELDS = {
  primary: ['district', 'schoolNet', 'category', 'schoolGroup', 'gender', 'religion', 'session'],
  secondary: ['district', 'banding', 'category', 'schoolGroup', 'gender', 'religion', 'session'],
} as const satisfies Record<Level, readonly string[]>

export type FilterField = (typeof FILTER_FIELDS)[Level][number]

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
