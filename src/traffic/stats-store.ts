// The shared record of request statistics (tables of migration 006): hourly buckets that every
// instance adds its counts to, so the deployment learns as one. Bounded: at most `keysPerHour`
// key rows per hour (the most requested; the rest are cut at each flush) for `retentionDays`
// days, plus a few class rows per hour and the learned set (at most WARM_LEARNED_MAX_KEYS rows
// plus the keys it dropped).
import type { Database } from '../db/database.ts'
import type { ClassCount, StatsBatch } from './request-stats.ts'

export const HOUR_MS = 3_600_000

export interface KeyTotal {
  key: string
  requestClass: string
  requests: number
  misses: number
}

export interface LearnedKeyRow {
  key: string
  requestClass: string
  requests: number
  state: 'warm' | 'dropped'
  reason: string | null
  updatedAt: string
}

export function hourOf(ms: number): Date {
  return new Date(Math.floor(ms / HOUR_MS) * HOUR_MS)
}

export class RequestStatsStore {
  constructor(private readonly db: Database, private readonly keysPerHour: number) {}

  /** Adds a batch to the bucket of the hour it ends in; then trims that hour to `keysPerHour` keys. */
  async add(batch: StatsBatch, now = Date.now()): Promise<void> {
    const hour = hourOf(now)
    // One order for every writer, so two instances upserting the same keys never deadlock.
    const keys = [...batch.keys].sort((left, right) => (left.key < right.key ? -1 : left.key > right.key ? 1 : 0))
    const classes = batch.classes.filter((row) => row.requests > 0)
    if (keys.length === 0 && classes.length === 0) return
    await this.db.transaction(async (tx) => {
      if (keys.length > 0) {
        await tx.query(
          `INSERT INTO request_key_counts (hour, key, request_class, requests, misses)
           SELECT $1, k, c, r, m FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS t(k, c, r, m)
           ON CONFLICT (hour, key) DO UPDATE SET requests = request_key_counts.requests + excluded.requests, misses = request_key_counts.misses + excluded.misses`,
          [hour, keys.map((row) => row.key), keys.map((row) => row.requestClass), keys.map((row) => row.requests), keys.map((row) => row.misses)],
        )
        await tx.query(
          `DELETE FROM request_key_counts WHERE hour = $1 AND key IN (
             SELECT key FROM request_key_counts WHERE hour = $1 ORDER BY requests DESC, key OFFSET $2)`,
          [hour, this.keysPerHour],
        )
      }
      if (classes.length > 0) {
        await tx.query(
          `INSERT INTO request_class_counts (hour, request_class, requests, cached, warm)
           SELECT $1, c, r, h, w FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS t(c, r, h, w)
           ON CONFLICT (hour, request_class) DO UPDATE SET requests = request_class_counts.requests + excluded.requests,
             cached = request_class_counts.cached + excluded.cached, warm = request_class_counts.warm + excluded.warm`,
          [hour, classes.map((row) => row.requestClass), classes.map((row) => row.requests), classes.map((row) => row.cached), classes.map((row) => row.warm)],
        )
      }
    })
  }

  /** Keys by requests over the last `hours` hours (the current one included), most requested first. */
  async topKeys(hours: number, limit: number, now = Date.now(), orderBy: 'requests' | 'misses' = 'requests'): Promise<KeyTotal[]> {
    const rows = await this.db.query<{ key: string; request_class: string; requests: number; misses: number }>(
      `SELECT key, max(request_class) AS request_class, sum(requests)::float8 AS requests, sum(misses)::float8 AS misses
       FROM request_key_counts WHERE hour > $1 GROUP BY key
       ${orderBy === 'misses' ? 'HAVING sum(misses) > 0' : ''}
       ORDER BY ${orderBy === 'misses' ? 'misses' : 'requests'} DESC, key LIMIT $2`,
      [new Date(hourOf(now).getTime() - hours * HOUR_MS), limit],
    )
    return rows.map((row) => ({ key: row.key, requestClass: row.request_class, requests: Number(row.requests), misses: Number(row.misses) }))
  }

  async classTotals(hours: number, now = Date.now()): Promise<ClassCount[]> {
    const rows = await this.db.query<{ request_class: string; requests: number; cached: number; warm: number }>(
      `SELECT request_class, sum(requests)::float8 AS requests, sum(cached)::float8 AS cached, sum(warm)::float8 AS warm
       FROM request_class_counts WHERE hour > $1 GROUP BY request_class`,
      [new Date(hourOf(now).getTime() - hours * HOUR_MS)],
    )
    return rows.map((row) => ({ requestClass: row.request_class, requests: Number(row.requests), cached: Number(row.cached), warm: Number(row.warm) }))
  }

  /** Removes buckets older than `days` days. */
  async prune(days: number, now = Date.now()): Promise<void> {
    const cutoff = new Date(hourOf(now).getTime() - days * 24 * HOUR_MS)
    await this.db.query('DELETE FROM request_key_counts WHERE hour <= $1', [cutoff])
    await this.db.query('DELETE FROM request_class_counts WHERE hour <= $1', [cutoff])
  }

  /** Forgets one key's counts (a learned key the data no longer allows). */
  async forgetKey(key: string): Promise<void> {
    await this.db.query('DELETE FROM request_key_counts WHERE key = $1', [key])
  }

  /** Deletes every statistic and the learned set (`schools coverage --delete`, README). */
  async deleteAll(): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM request_key_counts')
      await tx.query('DELETE FROM request_class_counts')
      await tx.query('DELETE FROM warm_learned_keys')
    })
  }

  async sizes(): Promise<{ keyRows: number; classRows: number; learnedRows: number }> {
    const [row] = await this.db.query<{ keys: number; classes: number; learned: number }>(
      `SELECT (SELECT count(*) FROM request_key_counts)::int AS keys, (SELECT count(*) FROM request_class_counts)::int AS classes,
              (SELECT count(*) FROM warm_learned_keys)::int AS learned`,
    )
    return { keyRows: row?.keys ?? 0, classRows: row?.classes ?? 0, learnedRows: row?.learned ?? 0 }
  }

  /** Replaces the learned set: `warm` are the keys chosen, `dropped` those refused (with why). */
  async saveLearned(warm: readonly KeyTotal[], dropped: readonly { key: string; requestClass: string; requests: number; reason: string }[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM warm_learned_keys')
      const rows = [...warm.map((row) => ({ ...row, state: 'warm', reason: null as string | null })), ...dropped.map((row) => ({ ...row, misses: 0, state: 'dropped' }))]
      if (rows.length === 0) return
      await tx.query(
        `INSERT INTO warm_learned_keys (key, request_class, requests, state, reason)
         SELECT k, c, r, s, e FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) AS t(k, c, r, s, e)
         ON CONFLICT (key) DO NOTHING`,
        [rows.map((row) => row.key), rows.map((row) => row.requestClass), rows.map((row) => row.requests), rows.map((row) => row.state), rows.map((row) => row.reason)],
      )
    })
  }

  /** Marks a learned key dropped (its warm found the data no longer allows it). */
  async markDropped(key: string, reason: string): Promise<void> {
    await this.db.query(`UPDATE warm_learned_keys SET state = 'dropped', reason = $2, updated_at = now() WHERE key = $1`, [key, reason])
  }

  async learned(): Promise<LearnedKeyRow[]> {
    const rows = await this.db.query<{ key: string; request_class: string; requests: number; state: 'warm' | 'dropped'; reason: string | null; updated_at: Date | string }>(
      'SELECT key, request_class, requests::float8 AS requests, state, reason, updated_at FROM warm_learned_keys ORDER BY requests DESC, key',
    )
    return rows.map((row) => ({ key: row.key, requestClass: row.request_class, requests: Number(row.requests), state: row.state, reason: row.reason, updatedAt: new Date(row.updated_at).toISOString() }))
  }
}
