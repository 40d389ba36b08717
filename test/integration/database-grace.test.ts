// Grace while PostgreSQL is down, memory-only cache (see grace-suite.ts).
import { testDatabaseUrl } from '../helpers/env.ts'
import { graceSuite } from './grace-suite.ts'

if (testDatabaseUrl) graceSuite('memory')
