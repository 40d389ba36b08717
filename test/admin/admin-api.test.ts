// The admin API with the local scheduler and a memory cache (see admin-suite.ts).
import { adminApiSuite } from './admin-suite.ts'

adminApiSuite({ scheduler: 'local', redis: false })
