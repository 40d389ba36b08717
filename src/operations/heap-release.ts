// A warmup allocates far more than it keeps (rows, JSON strings, compression output: several
// times the bodies it stores), and V8 keeps the pages that garbage grew its heap to until a
// later full collection: 20-50 MB of RSS after the boot warmup (README, "Memory and the boot
// with workers"). Two full collections shortly after a run ends hand them back (the first
// frees the garbage, the second the pages it emptied; one alone left the heap at its peak
// size): a pause of a few tens of ms per warmup. It needs node's --expose-gc (package.json's
// start script); without it this does nothing.
const SETTLE_MS = 200

/** Collects the garbage a finished warmup left, once its last callbacks have let go of it. */
export function releaseWarmupGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) return
  setTimeout(() => {
    gc()
    gc()
  }, SETTLE_MS).unref()
}
