#!/usr/bin/env node
// The `schools` command. The project runs TypeScript directly through tsx (no build step).
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
