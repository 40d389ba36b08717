// A TCP proxy the fault tests put between the app and a real server (PostgreSQL), to cut the
// line in the two ways a network fails:
// - 'refuse': every open connection is reset and new ones are closed at once (the server died,
//   or a firewall rejects): clients see errors immediately;
// - 'blackhole': open connections are reset, new ones are accepted and then never answered (a
//   partition, a hung server): clients only find out through their own timeouts;
// - 'reject-auth': open connections are reset, and a new one is answered the way PostgreSQL
//   answers a client that pg_hba.conf does not admit (FATAL 28000, naming host, user, database).
// It can also hold the client-to-server direction, so a test can keep one query in flight for
// exactly as long as it needs (a request still running when SIGTERM arrives), or slow every
// query down so that a warmup reliably takes a while.
import { once } from 'node:events'
import net from 'node:net'

export type ProxyMode = 'pass' | 'refuse' | 'blackhole' | 'reject-auth'

/** The text PostgreSQL sends when pg_hba.conf rejects a connection: it names a host, a user and a database. */
export const PG_HBA_MESSAGE = 'no pg_hba.conf entry for host "10.20.30.40", user "schools_owner", database "schools_production", no encryption'

/** A PostgreSQL ErrorResponse message (FATAL, SQLSTATE 28000) carrying PG_HBA_MESSAGE. */
const PG_HBA_REJECTION = ((): Buffer => {
  const fields = Buffer.concat([['S', 'FATAL'], ['V', 'FATAL'], ['C', '28000'], ['M', PG_HBA_MESSAGE]].map(([type, value]) => Buffer.from(`${type}${value}\0`)).concat(Buffer.from([0])))
  const header = Buffer.alloc(5)
  header.write('E', 0)
  header.writeInt32BE(fields.length + 4, 1)
  return Buffer.concat([header, fields])
})()

interface Pair {
  client: net.Socket
  upstream: net.Socket | undefined
  /** Client-to-server bytes in order, each sent after the latency set when it arrived. */
  sending: Promise<void>
}

export class FaultProxy {
  #mode: ProxyMode = 'pass'
  #holding = false
  readonly #held: { pair: Pair; chunk: Buffer }[] = []
  #onHeld: (() => void) | undefined
  readonly #pairs = new Set<Pair>()
  /** Connections accepted since start, whatever happened to them. */
  accepted = 0
  /** Added to every client-to-server chunk (a slow network or a slow database), in order. */
  latencyMs = 0

  private constructor(private readonly server: net.Server, readonly port: number, private readonly target: { host: string; port: number }) {}

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const server = net.createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address')
    const proxy = new FaultProxy(server, address.port, target)
    server.on('connection', (client) => proxy.#accept(client))
    return proxy
  }

  get mode(): ProxyMode {
    return this.#mode
  }

  /** Resets every open connection and handles new ones according to `mode`. */
  cut(mode: Exclude<ProxyMode, 'pass'>): void {
    this.#mode = mode
    this.#held.length = 0
    for (const pair of this.#pairs) this.#destroy(pair)
  }

  /** Forwards new connections again (the old ones were reset by cut()). */
  restore(): void {
    this.#mode = 'pass'
  }

  /** Stops forwarding client-to-server bytes; they queue until release(). */
  hold(): void {
    this.#holding = true
  }

  /** Resolves once some client-to-server bytes are queued by hold(), i.e. a query is in flight. */
  async whenHeld(timeoutMs: number): Promise<void> {
    if (this.#held.length > 0) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#onHeld = undefined
        reject(new Error(`no client bytes reached the held proxy within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#onHeld = () => {
        clearTimeout(timer)
        this.#onHeld = undefined
        resolve()
      }
    })
  }

  /** Sends what hold() queued, in order, and forwards normally again. */
  release(): void {
    this.#holding = false
    for (const { pair, chunk } of this.#held.splice(0)) {
      if (!pair.upstream?.destroyed) pair.upstream?.write(chunk)
    }
  }

  /** A connection string with the host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const parsed = new URL(url)
    parsed.hostname = '127.0.0.1'
    parsed.port = String(this.port)
    return parsed.toString()
  }

  async close(): Promise<void> {
    this.cut('refuse')
    const closed = once(this.server, 'close')
    this.server.close()
    await closed
  }

  #accept(client: net.Socket): void {
    this.accepted += 1
    client.on('error', () => {})
    if (this.#mode === 'refuse') {
      client.destroy()
      return
    }
    if (this.#mode === 'reject-auth') {
      client.once('data', () => client.end(PG_HBA_REJECTION))
      return
    }
    const pair: Pair = { client, upstream: undefined, sending: Promise.resolve() }
    this.#pairs.add(pair)
    client.on('close', () => this.#destroy(pair))
    // A blackholed connection is kept open and read, and nothing ever comes back.
    if (this.#mode === 'blackhole') {
      client.resume()
      return
    }
    const upstream = net.connect(this.target)
    pair.upstream = upstream
    upstream.on('error', () => {})
    upstream.on('close', () => this.#destroy(pair))
    upstream.on('data', (chunk: Buffer) => client.write(chunk))
    client.on('data', (chunk: Buffer) => {
      if (this.#holding) {
        this.#held.push({ pair, chunk })
        this.#onHeld?.()
        return
      }
      // net.Socket buffers writes made before it connects.
      if (this.latencyMs === 0) {
        upstream.write(chunk)
        return
      }
      const latency = this.latencyMs
      pair.sending = pair.sending.then(() => new Promise<void>((resolve) => setTimeout(resolve, latency))).then(() => {
        if (!upstream.destroyed) upstream.write(chunk)
      })
    })
  }

  #destroy(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return
    pair.client.destroy()
    pair.upstream?.destroy()
  }
}
