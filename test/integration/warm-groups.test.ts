// Each warm group warms exactly its keys (see warm-group-cases.ts); the opt-in details group,
// 1316 keys, is in warm-details.test.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeEachCacheMode, warmListQueries } from '../helpers/integration.ts'
import { assertWarmsExactly, groupUrls, schoolNos, type WarmGroupCase } from './warm-group-cases.ts'

const cases: WarmGroupCase[] = [
  { groups: ['primary'], covered: ['primary'], keys: 9 },
  { groups: ['secondary'], covered: ['secondary'], keys: 5 },
  { groups: ['filters'], covered: ['filters'], keys: 2 },
  { groups: ['stats'], covered: ['stats'], keys: 1 },
  { groups: ['stats', 'filters'], covered: ['stats', 'filters'], keys: 3 },
  { groups: ['all'], covered: ['filters', 'stats', 'primary', 'secondary'], keys: 17 },
]

test('the bundled data has 1316 schools and the config lists 9 primary and 8 secondary queries (3 need banding)', () => {
  assert.equal(schoolNos.length, 1316)
  assert.equal(warmListQueries('primary').length, 9)
  assert.equal(warmListQueries('secondary').length, 8)
  assert.equal(groupUrls.secondary!.length, 5)
})

describeEachCacheMode('warm groups', (getApp) => {
  for (const warmCase of cases) {
    test(`${warmCase.groups.join('+')} warms exactly its ${warmCase.keys} keys`, () => assertWarmsExactly(getApp(), warmCase))
  }
})
