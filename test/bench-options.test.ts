// The bench's flags: --only picks phases by name (and refuses an unknown one), the older skip
// and burst-only flags still mean what they did, and the modes of the throughput comparison
// pair each compressed warm-hit mode with a ceiling sending the same encoding.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseBenchOptions, PHASES } from '../bench/options.ts'
import { modeDefinitions } from '../bench/throughput.ts'

test('--only runs the named phases, in run order; an unknown name is refused', () => {
  assert.deepEqual(parseBenchOptions([], {}).phases, [...PHASES])
  assert.deepEqual(parseBenchOptions(['--only', 'boot,warmup-serving'], {}).phases, ['warmup-serving', 'boot'])
  assert.deepEqual(parseBenchOptions(['--only', 'hits'], {}).phases, ['hits'])
  assert.throws(() => parseBenchOptions(['--only', 'hits,warp'], {}), /--only takes phases from/)
})

test('the skip flags and --burst-only still select phases', () => {
  assert.deepEqual(parseBenchOptions(['--burst-only'], {}).phases, ['burst'])
  const skipped = parseBenchOptions(['--skip-replay', '--skip-throughput', '--skip-burst'], {}).phases
  assert.ok(!skipped.includes('replay') && !skipped.includes('hits') && !skipped.includes('burst'))
  assert.ok(skipped.includes('warmup-serving'))
})

test('every compressed mode has its own ceiling; servers that do not compress run identity only', () => {
  const modes = modeDefinitions(['ceiling', 'l1', 'naive'], ['identity', 'br'])
  assert.deepEqual(modes.map((mode) => mode.key), ['ceiling', 'l1', 'naive', 'ceiling-br', 'l1-br'])
  for (const mode of modes) assert.ok(modes.some((other) => other.server === 'ceiling' && other.encoding === mode.encoding))
})
