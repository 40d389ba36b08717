// Grace while PostgreSQL is down, memory + Redis cache (see grace-suite.ts).
import { testDatabaseUrl, testRedisUrl } from '../helpers/env.ts'
import { graceSuite } from './grace-suite.ts'

if (testDatabaseUrl && testRedisUrl) graceSuite('redis')
