// The wire under bentocache's bus: Redis pub/sub on connections this module owns.
//
// bentocache decides what travels on the bus (which keys another instance must expire, delete
// or clear from its L1) and keeps a retry queue for publishes that failed; this class only
// carries the messages. It replaces bentocache's own `redisBusDriver` because, in 1.6.1, that
// driver (reproduced while writing this module):
// - creates its publisher and subscriber with `duplicate()`, out of reach, so they have no
//   'error' listener and every failed reconnect is printed to stderr;
// - sends SUBSCRIBE without awaiting it, so when Redis is down at start the SUBSCRIBE is
//   rejected (ioredis' maxRetriesPerRequest) and the unhandled rejection ends the process;
// - closes with QUIT, which never resolves while commands wait for a connection, so closing
//   during an outage hangs.
// Here the subscriber waits patiently (its SUBSCRIBE cannot fail while Redis is away, and
// ioredis resubscribes after a reconnect), publishing fails fast (bentocache then queues the
// message and sends it again on reconnect), and disconnect() closes at once.
import type { BusDriver, CacheBusMessage } from 'bentocache/types'
import type { Redis } from 'ioredis'
import { failFastOptions, openRedis, patientOptions, type RedisTimeouts } from './redis-connections.ts'

type Handler = Parameters<BusDriver['subscribe']>[1]
type Payload = Parameters<Handler>[0]

/** Our own channel beside bentocache's: an instance that expired everything says so once. */
const EXPIRE_ALL_CHANNEL = 'local-expiry'

interface WireMessage {
  busId: string
  payload: Payload
}

function isWireMessage(value: unknown): value is WireMessage {
  return typeof value === 'object' && value !== null && typeof (value as { busId?: unknown }).busId === 'string' && 'payload' in value
}

export interface RedisBusTransportOptions {
  url: string
  /** Channels are `<channelPrefix>:<bentocache channel>`, so deployments sharing a Redis never hear each other. */
  channelPrefix: string
  timeouts: RedisTimeouts
  onError: (error: Error) => void
  /**
   * Called when the subscriber is back after losing its connection. Pub/sub does not replay
   * what was published meanwhile, so the owner must assume its L1 missed invalidations.
   */
  onResubscribed?: () => void
}

export class RedisBusTransport implements BusDriver {
  readonly #publisher: Redis
  readonly #subscriber: Redis
  readonly #handlers = new Map<string, Handler>()
  readonly #reconnectCallbacks: (() => void)[] = []
  readonly #channelPrefix: string
  readonly #onError: (error: Error) => void
  #busId = ''
  #closing = false
  #everReady = false

  constructor(options: RedisBusTransportOptions) {
    this.#channelPrefix = options.channelPrefix
    this.#onError = options.onError
    this.#publisher = openRedis(options.url, failFastOptions(options.timeouts), options.onError)
    this.#subscriber = openRedis(options.url, patientOptions(options.timeouts), options.onError)
    this.#subscriber.on('message', (channel: string, raw: string) => this.#receive(channel, raw))
    this.#subscriber.on('ready', () => {
      // bentocache's bus flushes its retry queue from here.
      for (const callback of this.#reconnectCallbacks) callback()
      if (this.#everReady) options.onResubscribed?.()
      this.#everReady = true
    })
  }

  setId(id: string): this {
    this.#busId = id
    return this
  }

  onReconnect(callback: () => void): void {
    this.#reconnectCallbacks.push(callback)
  }

  async publish(channel: string, message: Payload): Promise<void> {
    await this.#publisher.publish(this.#channel(channel), JSON.stringify({ busId: this.#busId, payload: message }))
  }

  // bentocache calls this without awaiting it: it must never reject.
  subscribe: BusDriver['subscribe'] = async (channel, handler) => {
    const fullChannel = this.#channel(channel)
    this.#handlers.set(fullChannel, handler as unknown as Handler)
    try {
      await this.#subscriber.subscribe(fullChannel)
    } catch (error) {
      // Only a close before Redis was ever reached rejects a patient SUBSCRIBE.
      if (!this.#closing) this.#onError(error instanceof Error ? error : new Error(String(error)))
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    const fullChannel = this.#channel(channel)
    this.#handlers.delete(fullChannel)
    await this.#subscriber.unsubscribe(fullChannel).catch(() => undefined)
  }

  /**
   * Tells the other instances that this one expired everything: their local entries (searches,
   * keys not admitted) never reach Redis, so no per-key message names them.
   */
  async announceExpireAll(): Promise<void> {
    await this.publish(EXPIRE_ALL_CHANNEL, { type: 'expire-all' } as unknown as Payload)
  }

  /** `handler` runs when another instance announces that it expired everything. */
  onExpireAllElsewhere(handler: () => void): Promise<void> {
    return this.subscribe(EXPIRE_ALL_CHANNEL, handler)
  }

  /** Hands a message to this process's own subscribers, as if another instance had sent it. */
  deliverLocally(message: CacheBusMessage): void {
    for (const handler of this.#handlers.values()) this.#dispatch(handler, message as unknown as Payload)
  }

  /** deliverLocally() for bentocache's subscribers only: its L1 does what the message says, nothing else happens. */
  deliverToCache(message: CacheBusMessage): void {
    const expireAllChannel = this.#channel(EXPIRE_ALL_CHANNEL)
    for (const [channel, handler] of this.#handlers) {
      if (channel !== expireAllChannel) this.#dispatch(handler, message as unknown as Payload)
    }
  }

  async disconnect(): Promise<void> {
    this.#closing = true
    // disconnect(), not quit(): QUIT waits behind queued commands, forever if Redis is down.
    this.#publisher.disconnect()
    this.#subscriber.disconnect()
  }

  #channel(channel: string): string {
    return `${this.#channelPrefix}:${channel}`
  }

  #receive(channel: string, raw: string): void {
    const handler = this.#handlers.get(channel)
    if (!handler) return
    let message: unknown
    try {
      message = JSON.parse(raw)
    } catch {
      return
    }
    // Redis delivers our own publications back to us; bentocache expects them filtered.
    if (!isWireMessage(message) || message.busId === this.#busId) return
    this.#dispatch(handler, message.payload)
  }

  #dispatch(handler: Handler, payload: Payload): void {
    Promise.resolve()
      .then(() => handler(payload))
      .catch((error: unknown) => this.#onError(error instanceof Error ? error : new Error(String(error))))
  }
}
