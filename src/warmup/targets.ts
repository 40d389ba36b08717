// The registry of warm targets. A target belongs to one group and lists the cache keys it
// keeps hot; each key carries its own warm() (the app's cache refresh). This module never
// looks inside a key: it only lists, calls and times them.
import { InvalidParameterError, UnknownWarmupGroupError } from '../errors.ts'

export interface WarmKey {
  /** Stable, human-readable cache key; used in progress output, logs and error lists. */
  key: string
  /** Refreshes this key's cached value. Rejecting marks the key failed; the run goes on. */
  warm(): Promise<void>
}

export interface WarmTarget {
  /** Unique across the registry, e.g. 'primary-lists'. */
  name: string
  group: string
  /** Called at the start of every run, so keys can follow the data (one per school, ...). */
  keys(): Promise<WarmKey[]> | WarmKey[]
}

export interface WarmGroupDefinition {
  name: string
  /** Opt-in groups are left out of 'all' and run only when named (e.g. every school's detail). */
  optIn?: boolean
}

export interface WarmGroupInfo {
  name: string
  optIn: boolean
  targets: string[]
}

/** The pseudo-group that stands for every group that is not opt-in. */
export const ALL_GROUPS = 'all'

const GROUP_NAME = /^[a-z][a-z0-9-]{0,62}$/

/** Someone asked for a group that does not exist; InvalidParameterError makes it a 400. */
// In the catalogue (src/errors.ts); exported here too, where its callers have always found it.
export { UnknownWarmupGroupError }

export class WarmTargetRegistry {
  readonly #groups = new Map<string, { optIn: boolean }>()
  readonly #targets = new Map<string, WarmTarget>()

  constructor(groups: (string | WarmGroupDefinition)[] = []) {
    for (const group of groups) this.defineGroup(typeof group === 'string' ? { name: group } : group)
  }

  /** Groups must be defined before targets use them, so a typo in wiring fails at start. */
  defineGroup(definition: WarmGroupDefinition): this {
    const { name } = definition
    const optIn = definition.optIn ?? false
    if (!GROUP_NAME.test(name) || name === ALL_GROUPS) {
      throw new Error(`Warm group name '${name}' must be lowercase letters, digits and '-', and not '${ALL_GROUPS}'`)
    }
    const existing = this.#groups.get(name)
    if (existing && existing.optIn !== optIn) throw new Error(`Warm group '${name}' is already defined with optIn=${existing.optIn}`)
    this.#groups.set(name, { optIn })
    return this
  }

  register(target: WarmTarget): this {
    if (!this.#groups.has(target.group)) {
      throw new Error(`Warm target '${target.name}' uses undefined group '${target.group}'; define it first`)
    }
    if (this.#targets.has(target.name)) throw new Error(`Warm target '${target.name}' is already registered`)
    this.#targets.set(target.name, target)
    return this
  }

  /** Every group in definition order, for the admin API and `--help` output. */
  groups(): WarmGroupInfo[] {
    return [...this.#groups].map(([name, { optIn }]) => ({
      name,
      optIn,
      targets: [...this.#targets.values()].filter((target) => target.group === name).map((target) => target.name),
    }))
  }

  /**
   * Turns a request into the concrete groups to warm, in definition order. `undefined`
   * means 'all'; 'all' expands to the non-opt-in groups and can be combined with opt-in
   * ones ('all', 'details'). Throws UnknownWarmupGroupError or InvalidParameterError.
   */
  resolveGroups(requested: readonly string[] | undefined = [ALL_GROUPS]): string[] {
    const names = requested.map((group) => group.trim()).filter((group) => group !== '')
    if (names.length === 0) throw new InvalidParameterError('groups', 'must name at least one warmup group')
    const unknown = [...new Set(names.filter((group) => group !== ALL_GROUPS && !this.#groups.has(group)))]
    if (unknown.length > 0) throw new UnknownWarmupGroupError(unknown, [ALL_GROUPS, ...this.#groups.keys()])
    const wanted = new Set(names)
    return [...this.#groups].filter(([name, { optIn }]) => wanted.has(name) || (wanted.has(ALL_GROUPS) && !optIn)).map(([name]) => name)
  }

  /** Targets of the given (already resolved) groups, in registration order. */
  targetsFor(groups: readonly string[]): WarmTarget[] {
    const wanted = new Set(groups)
    return [...this.#targets.values()].filter((target) => wanted.has(target.group))
  }
}
