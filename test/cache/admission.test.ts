// SharedTierAdmission's own bounds, without a cache around it: the warm set is remembered up
// to its bound, the least recently warmed key first forgotten; frequency admission is tested
// through every cache configuration in response-cache-admission.contract.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SharedTierAdmission } from '../../src/cache/admission.ts'

const options = { minHits: 2, window: 1000, maxKeys: 3, maxBytes: 1024 * 1024 }

test('the warm set keeps at most 200,000 keys, forgetting the least recently warmed; a warm key is admitted at once', () => {
  const admission = new SharedTierAdmission(options, () => assert.fail('warm keys are not evicted through the frequency budget'))
  assert.equal(admission.admits('list:cold', 1), false)
  for (let index = 0; index < 200_000; index += 1) admission.markWarm(`list:${index}`)
  admission.markWarm('list:0') // warmed again: now the most recent
  admission.markWarm('list:new')
  assert.equal(admission.counts().warmKeys, 200_000)
  assert.equal(admission.isWarm('list:0'), true)
  assert.equal(admission.isWarm('list:1'), false, 'the least recently warmed key is forgotten')
  assert.equal(admission.isWarm('list:new'), true)
  assert.equal(admission.admits('list:new', 0), true)
  admission.forget('list:new')
  assert.equal(admission.isWarm('list:new'), false)
  admission.forgetAll()
  assert.equal(admission.counts().warmKeys, 0)
})
