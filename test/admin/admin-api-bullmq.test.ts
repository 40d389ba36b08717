// The admin API with the BullMQ scheduler and a memory + Redis cache (see admin-suite.ts).
import { skipUnlessServers } from '../helpers/env.ts'
import { adminApiSuite } from './admin-suite.ts'

if (skipUnlessServers('admin API [bullmq]', ['redis'])) adminApiSuite({ scheduler: 'bullmq', redis: true })
