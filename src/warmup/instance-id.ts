// Each running process writes its warmup history rows under an instance id. On start the
// process marks its own leftover 'running' rows as interrupted, so the id must be
// (a) stable across restarts of the same process slot and (b) unique among live processes.
// A random id fails (a), the hostname alone fails (b) as soon as WORKERS > 1.
import os from 'node:os'

/** `<hostname>#<slot>`, where slot is the worker index (0 for a single process). */
export function defaultInstanceId(slot = 0): string {
  return `${os.hostname()}#${slot}`
}
