// One load measurement with autocannon. Latencies are taken from autocannon's 'response'
// events (hrtime, fractional milliseconds) rather than its histogram, which records whole
// milliseconds: at sub-millisecond latencies that rounding would hide every difference.
import autocannon from 'autocannon'
import { percentileOfSorted as percentile } from './stats.ts'

export interface LoadResult {
  requests: number
  /** Responses per second over the measured time. */
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  /** Non-2xx responses plus connection errors and timeouts; a valid measurement has none. */
  failures: number
  bytesPerResponse: number
}

export interface LoadOptions {
  url: string
  connections: number
  durationSeconds: number
  /** Request headers, e.g. Accept-Encoding for the compressed variants. */
  headers?: Record<string, string>
  /** Paths each connection asks for in turn, instead of the url's own. */
  paths?: readonly string[]
  /** Called with each 2xx response's completion time (epoch ms) and latency (ms): the per-second series of warmup-serving.ts. */
  onResponse?: (atMs: number, latencyMs: number) => void
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16)
  let count = 0
  let bytes = 0
  let finish: (error: unknown, result: autocannon.Result) => void = () => {}
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    finish = (error, result) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(result))
  })
  // The callback form: the promise form would also reject unobserved on a setup error.
  const instance = autocannon({ url: options.url, connections: options.connections, duration: options.durationSeconds, pipelining: 1, ...(options.headers ? { headers: options.headers } : {}), ...(options.paths ? { requests: options.paths.map((path) => ({ method: 'GET' as const, path })) } : {}) }, (error, result) => finish(error, result))
  instance.on('response', (_client, statusCode, resBytes, responseTime) => {
    if (statusCode < 200 || statusCode >= 300) return
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2)
      grown.set(latencies)
      latencies = grown
    }
    latencies[count++] = responseTime
    bytes += resBytes
    options.onResponse?.(performance.timeOrigin + performance.now(), responseTime)
  })
  const result = await finished
  const sorted = latencies.subarray(0, count).sort()
  return {
    requests: count,
    requestsPerSecond: count / result.duration,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    maxMs: count > 0 ? sorted[count - 1]! : Number.NaN,
    failures: result.non2xx + result.errors + result.timeouts,
    bytesPerResponse: count > 0 ? bytes / count : 0,
  }
}
