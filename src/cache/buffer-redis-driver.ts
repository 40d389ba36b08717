// bentocache's Redis driver, reading values as Buffers (ioredis GETBUFFER) instead of strings.
// Entries are stored as bytes (entry-serializer.ts): reading them as a string would decode
// compressed bytes as UTF-8 (and corrupt them) and cost a decode and re-encode per L2 hit.
// Writing needs no change: ioredis sends a Buffer argument as it is.
import { RedisDriver } from 'bentocache/drivers/redis'
import type { CreateDriverResult } from 'bentocache/types'

type RedisDriverConfig = ConstructorParameters<typeof RedisDriver>[0]

class BufferRedisDriver extends RedisDriver {
  override async get(key: string): Promise<string | undefined> {
    const value = await this.getConnection().getBuffer(this.getItemKey(key))
    // bentocache hands whatever the driver returns to the serialiser, which takes Buffers.
    return (value ?? undefined) as unknown as string | undefined
  }

  override async pull(key: string): Promise<string | undefined> {
    const value = await this.getConnection().getdelBuffer(this.getItemKey(key))
    return (value ?? undefined) as unknown as string | undefined
  }

  override namespace(namespace: string): RedisDriver {
    return new BufferRedisDriver({ ...this.config, connection: this.getConnection(), prefix: this.createNamespacePrefix(namespace) } as RedisDriverConfig)
  }
}

/** Drop-in for bentocache's `redisDriver`. */
export function bufferRedisDriver(options: RedisDriverConfig): CreateDriverResult<RedisDriver> {
  return { options, factory: (config: RedisDriverConfig) => new BufferRedisDriver(config) }
}
