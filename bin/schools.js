#!/usr/bin/env node
// The `schools` command: the compiled CLI in dist/ (built by `npm ci` through `prepare`, or `npm run build`).
await import('../dist/cli/main.js')
