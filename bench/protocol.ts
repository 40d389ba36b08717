// Messages between the bench (parent) and a server child over the fork IPC channel.
// Each server runs in its own process so the load generator never shares its event loop.

export type ServerMode = 'ceiling' | 'app' | 'stubbed' | 'naive' | 'nocache'

/** The bytes of the warm page in each encoding the app stores (base64 over IPC), so the ceiling sends the same. */
export interface Payload {
  body: string
  etag: string
  gzipBase64: string
  brBase64: string
}

/** process.memoryUsage() of a server child, in bytes. */
export interface MemoryFigures {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
}

export type ParentMessage =
  | { type: 'payload'; payload: Payload }
  | { type: 'counters' }
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string }
  | { type: 'stop' }

export type ChildMessage =
  | { type: 'ready'; port: number; warmupMs?: number }
  | { type: 'counters'; queries: number; cpuMicros: number; memory: MemoryFigures }
  | { type: 'profiled'; file: string }
  | { type: 'failed'; message: string }
