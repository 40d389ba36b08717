// Grace while PostgreSQL is down, memory + Redis cache (see grace-suite.ts).
import { skipUnlessServers } from '../helpers/env.ts'
import { graceSuite } from './grace-suite.ts'

if (skipUnlessServers('grace while the database is down [postgres, redis]', ['postgres', 'redis'])) graceSuite('redis')
