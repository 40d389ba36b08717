// Messages between the bench (parent) and a server child over the fork IPC channel.
// Each server runs in its own process so the load generator never shares its event loop.

export type ServerMode = 'ceiling' | 'app' | 'stubbed' | 'naive' | 'nocache'

export interface Payload {
  body: string
  etag: string
}

export type ParentMessage =
  | { type: 'payload'; payload: Payload }
  | { type: 'counters' }
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string }
  | { type: 'stop' }

export type ChildMessage =
  | { type: 'ready'; port: number; warmupMs?: number }
  | { type: 'counters'; queries: number; cpuMicros: number }
  | { type: 'profiled'; file: string }
  | { type: 'failed'; message: string }
