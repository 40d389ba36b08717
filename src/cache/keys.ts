// Canonical cache keys: one key per logical query, however the caller spelled it.
//
// Two requests that mean the same thing must share one cache entry, or the cache fills with
// duplicates and a warmed key is never the key a request reads. So the key ignores parameter
// order, the order of and duplicates within list values, and parameters that are absent or
// equal to their default. Values are percent-encoded, so no value can forge a separator and
// make two different queries collide.

/** A parameter value as it comes out of a validated query string. */
export type KeyParamValue = string | number | boolean | readonly (string | number)[] | undefined

export type KeyParams = Readonly<Record<string, KeyParamValue>>

/**
 * Every value becomes a sorted list of distinct strings: `'a'` and `['a']` are the same
 * query (a repeated query parameter given once), `[]` is no value at all (an empty filter
 * filters nothing), and `1`/`'1'` are the same (query strings have no types).
 */
function canonicalValues(value: KeyParamValue): string[] {
  if (value === undefined) return []
  const list = Array.isArray(value) ? value : [value as string | number | boolean]
  return [...new Set(list.map((item) => String(item)))].sort()
}

function sameValues(left: readonly string[], right: readonly string[]): boolean {
  return left.length === right.length && left.every((item, index) => item === right[index])
}

/**
 * `canonicalKey('list:primary', { district: ['WC', 'CW', 'WC'], page: 1 }, { page: 1 })`
 * gives `list:primary?district=CW,WC`. Pure: same input, same key, in any process.
 */
export function canonicalKey(namespace: string, params: KeyParams, defaults: KeyParams = {}): string {
  const parts: string[] = []
  for (const name of Object.keys(params).sort()) {
    const values = canonicalValues(params[name])
    if (values.length === 0) continue
    if (name in defaults && sameValues(values, canonicalValues(defaults[name]))) continue
    parts.push(`${encodeURIComponent(name)}=${values.map((value) => encodeURIComponent(value)).join(',')}`)
  }
  return parts.length === 0 ? namespace : `${namespace}?${parts.join('&')}`
}
