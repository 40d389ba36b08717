// /metrics of a cluster (`schools serve --workers N`): whichever worker a scrape reaches answers
// for the whole deployment. prom-client's AggregatorRegistry does the aggregation and its
// worker side answers the primary's requests for a worker's metrics; the primary adds its own
// registry (the scheduler and the boot warmup run there, so the warmup metrics live there),
// because prom-client's clusterMetrics() only asks the workers. A worker asks the primary over
// the cluster's IPC channel.
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client'
import { MetricsUnavailableError } from '../errors.ts'

const WORKER_ASKS = 'schools:metrics-request'
const PRIMARY_ANSWERS = 'schools:metrics-response'
/** prom-client's own messages (lib/cluster.js), spoken here by the primary to gather worker metrics. */
const PROM_REQUEST = 'prom-client:getMetricsReq'
const PROM_RESPONSE = 'prom-client:getMetricsRes'
const GATHER_TIMEOUT_MS = 5000

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[]

interface Message {
  type?: string
  requestId?: number
  metrics?: MetricsJson[]
  text?: string
  error?: string
}

/**
 * In the primary: answers workers' requests with the metrics of every worker plus the primary's
 * `registry`, aggregated by prom-client (counters and histograms summed; see each metric's aggregator).
 */
export function servePrimaryMetrics(registry: Registry): void {
  let nextId = 0
  const pending = new Map<number, { waiting: number; collected: MetricsJson[]; done: (error?: Error) => void }>()
  cluster.on('message', (worker: Worker, message: Message) => {
    if (message?.type === PROM_RESPONSE && message.requestId !== undefined) {
      const request = pending.get(message.requestId)
      if (!request) return
      if (message.metrics) request.collected.push(...message.metrics)
      request.waiting -= 1
      if (request.waiting === 0) request.done()
      return
    }
    if (message?.type !== WORKER_ASKS || message.requestId === undefined) return
    const answerId = message.requestId
    const requestId = nextId++
    const workers = Object.values(cluster.workers ?? {}).filter((each): each is Worker => Boolean(each?.isConnected()))
    const collected: MetricsJson[] = []
    const finish = (error?: Error): void => {
      clearTimeout(timer)
      pending.delete(requestId)
      const reply = (text?: string, failure?: string): void => {
        if (worker.isConnected()) worker.send({ type: PRIMARY_ANSWERS, requestId: answerId, ...(text !== undefined ? { text } : {}), ...(failure ? { error: failure } : {}) })
      }
      if (error) return reply(undefined, error.message)
      registry.getMetricsAsJSON()
        .then((own) => AggregatorRegistry.aggregate([...collected, own as MetricsJson]).metrics())
        .then((text) => reply(text), (failure: unknown) => reply(undefined, failure instanceof Error ? failure.message : String(failure)))
    }
    const timer = setTimeout(() => finish(new Error(`a worker did not answer within ${GATHER_TIMEOUT_MS} ms`)), GATHER_TIMEOUT_MS)
    pending.set(requestId, { waiting: workers.length, collected, done: finish })
    if (workers.length === 0) return finish()
    for (const each of workers) each.send({ type: PROM_REQUEST, requestId })
  })
}

/**
 * In a worker: makes `registry` the one prom-client reports to the primary, and returns the
 * /metrics renderer that asks the primary for the deployment's metrics. Undefined outside a cluster worker.
 */
export function workerMetricsRenderer(registry: Registry): (() => Promise<string>) | undefined {
  if (!cluster.isWorker || !process.send) return undefined
  AggregatorRegistry.setRegistries([registry])
  // Installs prom-client's worker-side responder (it answers PROM_REQUEST with this worker's metrics).
  new AggregatorRegistry()
  let nextId = 0
  return () => new Promise<string>((resolve, reject) => {
    const requestId = nextId++
    const onMessage = (message: Message): void => {
      if (message?.type !== PRIMARY_ANSWERS || message.requestId !== requestId) return
      cleanup()
      if (message.error !== undefined || message.text === undefined) reject(new MetricsUnavailableError(message.error ?? 'no answer'))
      else resolve(message.text)
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new MetricsUnavailableError(`the cluster primary did not answer within ${GATHER_TIMEOUT_MS * 2} ms`))
    }, GATHER_TIMEOUT_MS * 2)
    const cleanup = (): void => {
      clearTimeout(timer)
      process.off('message', onMessage)
    }
    process.on('message', onMessage)
    process.send!({ type: WORKER_ASKS, requestId })
  })
}
