// Each running process writes its warmup history rows under an instance id. On start the
// process marks its own leftover 'running' rows as interrupted, so the id must be
// (a) stable across restarts of the same process slot and (b) unique among live processes.
// A random id fails (a), the hostname alone fails (b) as soon as WORKERS > 1.
import os from 'node:os'

/**
 * `<hostname>#<slot>`: the worker index for server processes (0 for a single process), or a
 * role name for the other processes on the host ('primary' for a cluster primary, 'cli'), so
 * that no two live processes share an id.
 */
export function defaultInstanceId(slot: number | string = 0): string {
  return `${os.hostname()}#${slot}`
}
