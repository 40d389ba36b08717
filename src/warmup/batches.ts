// Lets the keys of one warm target share their loading: thousands of keys with one query each
// cost a round trip and a statement apiece (warming every school's detail took 2 to 7 s that
// way), while one query per batch of them costs a few milliseconds. The runner still warms,
// times and reports each key on its own; only the loading is grouped.

/**
 * One load function per item. The first call for an item of a batch (`size` consecutive items)
 * loads the whole batch with `loadBatch`; the others of that batch reuse its result. A batch is
 * released once each of its items has asked for it, so a run that takes the items in order
 * holds a batch or two at a time, not every value. An item the batch did not return resolves
 * undefined; a failed batch fails each of its items with the batch's error.
 */
export function loadInBatches<Item, Value>(items: readonly Item[], size: number, loadBatch: (batch: readonly Item[]) => Promise<ReadonlyMap<Item, Value>>): (() => Promise<Value | undefined>)[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`)
  const open = new Map<number, { waiting: number; values: Promise<ReadonlyMap<Item, Value>> }>()
  return items.map((item, index) => async () => {
    const number = Math.floor(index / size)
    let batch = open.get(number)
    if (batch === undefined) {
      const members = items.slice(number * size, (number + 1) * size)
      batch = { waiting: members.length, values: loadBatch(members) }
      open.set(number, batch)
    }
    batch.waiting -= 1
    if (batch.waiting <= 0) open.delete(number)
    return (await batch.values).get(item)
  })
}
