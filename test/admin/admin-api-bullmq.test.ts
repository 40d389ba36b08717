// The admin API with the BullMQ scheduler and a memory + Redis cache (see admin-suite.ts).
import { testRedisUrl } from '../helpers/env.ts'
import { adminApiSuite } from './admin-suite.ts'

if (testRedisUrl) adminApiSuite({ scheduler: 'bullmq', redis: true })
