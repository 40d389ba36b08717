// The contract suite against every configuration this machine can run: memory only always,
// and, when the test run has a Redis, memory + Redis (with the bus) and Redis without L1 (the
// benchmark's configuration).
import { skipUnlessServers, testRedisUrl } from '../helpers/env.ts'
import type { ContractConfiguration } from './contract-support.ts'
import { registerAdmissionContract } from './response-cache-admission.contract.ts'
import { registerResponseCacheContract } from './response-cache.contract.ts'

function registerContracts(configuration: ContractConfiguration): void {
  registerResponseCacheContract(configuration)
  registerAdmissionContract(configuration)
}

registerContracts({ name: 'memory', options: {} })

if (skipUnlessServers('response cache contract with Redis', ['redis'])) {
  registerContracts({ name: 'memory + redis', options: { redisUrl: testRedisUrl }, redisUrl: testRedisUrl })
  registerContracts({ name: 'redis, no L1', options: { redisUrl: testRedisUrl, l1: false }, redisUrl: testRedisUrl })
}
