// Grace while PostgreSQL is down, memory-only cache (see grace-suite.ts).
import { skipUnlessServers } from '../helpers/env.ts'
import { graceSuite } from './grace-suite.ts'

if (skipUnlessServers('grace while the database is down [postgres, memory]', ['postgres'])) graceSuite('memory')
