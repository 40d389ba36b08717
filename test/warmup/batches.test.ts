import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadInBatches } from '../../src/warmup/batches.ts'

const squares = (calls: (readonly number[])[]) => async (batch: readonly number[]): Promise<Map<number, number>> => {
  calls.push(batch)
  return new Map(batch.filter((item) => item !== 13).map((item) => [item, item * item]))
}

test('each item gets its value; one load per batch of consecutive items, whatever order they ask in', async () => {
  const calls: (readonly number[])[] = []
  const items = Array.from({ length: 25 }, (_, index) => index)
  const loads = loadInBatches(items, 10, squares(calls))
  const order = [24, 0, 5, 23, 9, ...items.filter((item) => ![24, 0, 5, 23, 9].includes(item))]
  const values = await Promise.all(order.map((index) => loads[index]!()))
  assert.deepEqual(values, order.map((item) => (item === 13 ? undefined : item * item)), 'an item the batch did not return is undefined')
  assert.deepEqual(calls.map((batch) => [...batch]).sort((a, b) => a[0]! - b[0]!), [items.slice(0, 10), items.slice(10, 20), items.slice(20)])
})

test('a batch is released once every item asked, so asking again loads it again', async () => {
  const calls: (readonly number[])[] = []
  const loads = loadInBatches([1, 2, 3], 2, squares(calls))
  await loads[0]!()
  await loads[1]!()
  assert.equal(calls.length, 1)
  assert.equal(await loads[0]!(), 1)
  assert.equal(calls.length, 2, 'the released batch is loaded again')
})

test('a failed batch fails each of its items with its error, and only those', async () => {
  const loads = loadInBatches(['a', 'b', 'c'], 2, async (batch) => {
    if (batch.includes('a')) throw new Error('database down')
    return new Map(batch.map((item) => [item, item.toUpperCase()]))
  })
  await assert.rejects(loads[0]!(), /database down/)
  await assert.rejects(loads[1]!(), /database down/)
  assert.equal(await loads[2]!(), 'C')
})

test('the batch size must be a positive integer', () => {
  assert.throws(() => loadInBatches([1], 0, squares([])), RangeError)
  assert.throws(() => loadInBatches([1], 1.5, squares([])), RangeError)
})
