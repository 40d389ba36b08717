// The opt-in details group warms every school's detail page (1316 keys) and nothing else (see
// warm-group-cases.ts; that 'all' leaves details out is checked in warm-groups.test.ts). One
// cache mode only, the fullest the run has: 1316 keys take a while on a busy machine.
import { after, before, describe, test } from 'node:test'
import { createTestApp, type TestApp } from '../helpers/app.ts'
import { cacheModes, closeTestApp, preferredBackend } from '../helpers/integration.ts'
import { assertWarmsExactly } from './warm-group-cases.ts'

const mode = cacheModes().at(-1)!

describe(`warm group details [${preferredBackend}, ${mode}]`, () => {
  let testApp: TestApp | undefined
  before(async () => {
    testApp = await createTestApp({ backend: preferredBackend, redis: mode === 'redis' })
  })
  after(() => closeTestApp(testApp))

  test('details warms exactly the 1316 school details', () => assertWarmsExactly(testApp!, { groups: ['details'], covered: ['details'], keys: 1316 }))
})
