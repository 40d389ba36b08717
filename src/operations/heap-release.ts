// Two ways the process hands back memory that a warmup used and no longer needs (README,
// "Memory and the boot with workers"). Both need node's --expose-gc (package.json's start
// script passes it); without it they do nothing.
//
// 1. While anything runs: a warmup's working Buffers (JSON bytes, compressed outputs, the full
//    entry written to Redis) outlive a few scavenges across their awaits, so they die in V8's
//    old generation, and V8 runs no full collection for them: their bytes count towards no
//    heap limit of its own until external memory passes 64 MB. Over a boot warmup the
//    process's ArrayBuffer bytes grew from 1 to 41 MB while 11 MB was live, and glibc keeps
//    the pages the dead ones took (its heap stayed at 44 MB). A full collection whenever
//    ArrayBuffer bytes have grown 8 MB since the lowest point seen (two or three per boot
//    warmup, 25-55 ms each) kept glibc's heap at 23 MB: RSS after the boot warmup 160 -> 140 MB.
// 2. After a warmup run: two full collections 200 ms later shrink V8's own heap back from
//    the warmup's peak (the first frees the garbage, the second the pages it emptied).
const SETTLE_MS = 200
const BUFFER_GROWTH_BYTES = 8 * 1024 * 1024
const BUFFER_CHECK_MS = 100

type Collect = () => void

function exposedGc(): Collect | undefined {
  return (globalThis as { gc?: Collect }).gc
}

/** Collects the garbage a finished warmup left, once its last callbacks have let go of it. */
export function releaseWarmupGarbage(): void {
  const gc = exposedGc()
  if (!gc) return
  setTimeout(() => {
    gc()
    gc()
  }, SETTLE_MS).unref()
}

export interface BufferGarbageWatchOptions {
  /** Bytes held by ArrayBuffers (Buffers), live and dead. */
  readBufferBytes?: () => number
  /** A full collection; by default node's exposed gc(). */
  collect?: Collect
  growthBytes?: number
  checkEveryMs?: number
}

/**
 * Runs a full collection whenever the bytes held by Buffers have grown `growthBytes` over the
 * lowest reading since the last one (V8's own collections lower it too). Returns the stop
 * function, or undefined when there is no gc() to call.
 */
export function watchBufferGarbage(options: BufferGarbageWatchOptions = {}): (() => void) | undefined {
  const collect = options.collect ?? exposedGc()
  if (!collect) return undefined
  const read = options.readBufferBytes ?? (() => process.memoryUsage().arrayBuffers)
  const growth = options.growthBytes ?? BUFFER_GROWTH_BYTES
  let lowest = read()
  const timer = setInterval(() => {
    const bytes = read()
    lowest = Math.min(lowest, bytes)
    if (bytes - lowest <= growth) return
    collect()
    lowest = read()
  }, options.checkEveryMs ?? BUFFER_CHECK_MS)
  timer.unref()
  return () => clearInterval(timer)
}
