import assert from 'node:assert/strict'
import { test } from 'node:test'
import { InvalidParameterError } from '../../src/errors.ts'
import { UnknownWarmupGroupError, WarmTargetRegistry } from '../../src/warmup/targets.ts'
import { appGroups, fakeTarget } from '../helpers/warmup-fakes.ts'

test("'all' (and no groups at all) means every group except the opt-in ones", () => {
  const registry = appGroups()
  assert.deepEqual(registry.resolveGroups(['all']), ['primary', 'secondary', 'filters', 'stats'])
  assert.deepEqual(registry.resolveGroups(undefined), ['primary', 'secondary', 'filters', 'stats'])
})

test('opt-in groups run when named, alone or with all', () => {
  const registry = appGroups()
  assert.deepEqual(registry.resolveGroups(['details']), ['details'])
  assert.deepEqual(registry.resolveGroups(['all', 'details']), ['primary', 'secondary', 'filters', 'stats', 'details'])
})

test('groups come back once each, in definition order', () => {
  assert.deepEqual(appGroups().resolveGroups(['stats', ' primary ', 'stats']), ['primary', 'stats'])
})

test('an unknown group is a 400 that names it and lists the known ones', () => {
  const registry = appGroups()
  assert.throws(() => registry.resolveGroups(['primary', 'tertiary', 'nope']), (error: unknown) => {
    assert.ok(error instanceof UnknownWarmupGroupError)
    assert.ok(error instanceof InvalidParameterError)
    assert.equal(error.statusCode, 400)
    assert.deepEqual(error.unknownGroups, ['tertiary', 'nope'])
    assert.match(error.message, /unknown warmup groups 'tertiary', 'nope'; known groups: all, primary, secondary, filters, stats, details/)
    assert.deepEqual(error.toJSON(), {
      error: 'E_INVALID_PARAMETER',
      message: error.message,
      parameter: 'groups',
      unknownGroups: ['tertiary', 'nope'],
      knownGroups: ['all', 'primary', 'secondary', 'filters', 'stats', 'details'],
    })
    return true
  })
})

test('an empty group list is rejected rather than read as all', () => {
  assert.throws(() => appGroups().resolveGroups([]), InvalidParameterError)
  assert.throws(() => appGroups().resolveGroups(['  ']), InvalidParameterError)
})

test('targets must use a defined group and a unique name', () => {
  const registry = appGroups().register(fakeTarget('lists', 'primary', ['a']))
  assert.throws(() => registry.register(fakeTarget('lists', 'secondary', ['b'])), /already registered/)
  assert.throws(() => registry.register(fakeTarget('typo', 'primray', ['b'])), /undefined group 'primray'/)
  assert.throws(() => new WarmTargetRegistry(['all']), /not 'all'/)
  assert.throws(() => registry.defineGroup({ name: 'primary', optIn: true }), /already defined/)
})

test('groups() lists each group with its targets; targetsFor picks by group', () => {
  const registry = appGroups()
    .register(fakeTarget('primary-lists', 'primary', ['p']))
    .register(fakeTarget('school-details', 'details', ['d']))
    .register(fakeTarget('primary-more', 'primary', ['q']))
  assert.deepEqual(registry.groups()[0], { name: 'primary', optIn: false, targets: ['primary-lists', 'primary-more'] })
  assert.deepEqual(registry.groups().at(-1), { name: 'details', optIn: true, targets: ['school-details'] })
  assert.deepEqual(registry.targetsFor(registry.resolveGroups(['all'])).map((target) => target.name), ['primary-lists', 'primary-more'])
})
