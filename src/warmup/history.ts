// The warmup run history in table warmup_runs: a 'running' row when a run starts, the final
// row when it ends. Rows outlive the process, so after a crash the next start of the same
// instance can mark its leftover 'running' rows as 'interrupted' (and only its own: other
// instances may be mid-run right now).
import type { Queryable } from '../db/database.ts'
import type { WarmupKeyError, WarmupKeyTiming, WarmupRunRecord, WarmupRunStatus, WarmupSummary } from './summary.ts'

interface WarmupRunRow {
  id: string
  trigger: string
  groups: string[]
  status: WarmupRunStatus
  instance: string
  started_at: Date | string
  finished_at: Date | string | null
  keys: number
  warmed: number
  failed: number
  duration_ms: number | null
  errors: WarmupKeyError[] | string
  slowest: WarmupKeyTiming[] | string
}

const COLUMNS = 'id, trigger, groups, status, instance, started_at, finished_at, keys, warmed, failed, duration_ms, errors, slowest'

export interface WarmupRunStart {
  runId: string
  trigger: string
  groups: string[]
  instance: string
  startedAt: string
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString()
}

function json<T>(value: T | string): T {
  // pg and PGlite both parse jsonb, but a driver configured otherwise hands back text.
  return typeof value === 'string' ? (JSON.parse(value) as T) : value
}

function toRecord(row: WarmupRunRow): WarmupRunRecord {
  return {
    runId: row.id,
    trigger: row.trigger,
    groups: row.groups,
    instance: row.instance,
    status: row.status,
    keys: row.keys,
    warmed: row.warmed,
    failed: row.failed,
    durationMs: row.duration_ms,
    errors: json(row.errors),
    slowest: json(row.slowest),
    startedAt: iso(row.started_at),
    finishedAt: row.finished_at === null ? null : iso(row.finished_at),
  }
}

export class WarmupHistory {
  constructor(private readonly db: Queryable) {}

  /**
   * Writes the 'running' row. An upsert, because a BullMQ retry or a stalled job picked up
   * again reruns under the same run id: the row then follows the latest attempt.
   */
  async recordStart(run: WarmupRunStart): Promise<void> {
    await this.db.query(
      `INSERT INTO warmup_runs (id, trigger, groups, status, instance, started_at)
       VALUES ($1, $2, $3, 'running', $4, $5)
       ON CONFLICT (id) DO UPDATE SET trigger = EXCLUDED.trigger, groups = EXCLUDED.groups, status = 'running',
         instance = EXCLUDED.instance, started_at = EXCLUDED.started_at, finished_at = NULL,
         keys = 0, warmed = 0, failed = 0, duration_ms = NULL, errors = '[]'::jsonb, slowest = '[]'::jsonb`,
      [run.runId, run.trigger, run.groups, run.instance, run.startedAt],
    )
  }

  /** Writes the final row; inserts it when the start was never recorded (database was down then). */
  async recordFinish(summary: WarmupSummary): Promise<void> {
    await this.db.query(
      `INSERT INTO warmup_runs (id, trigger, groups, status, instance, started_at, finished_at, keys, warmed, failed, duration_ms, errors, slowest)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, instance = EXCLUDED.instance, finished_at = EXCLUDED.finished_at,
         keys = EXCLUDED.keys, warmed = EXCLUDED.warmed, failed = EXCLUDED.failed, duration_ms = EXCLUDED.duration_ms,
         errors = EXCLUDED.errors, slowest = EXCLUDED.slowest`,
      [
        summary.runId, summary.trigger, summary.groups, summary.status, summary.instance, summary.startedAt, summary.finishedAt,
        summary.keys, summary.warmed, summary.failed, Math.round(summary.durationMs), JSON.stringify(summary.errors), JSON.stringify(summary.slowest),
      ],
    )
  }

  async get(runId: string): Promise<WarmupRunRecord | undefined> {
    const rows = await this.db.query<WarmupRunRow>(`SELECT ${COLUMNS} FROM warmup_runs WHERE id = $1`, [runId])
    return rows[0] && toRecord(rows[0])
  }

  /** Newest first. */
  async recent(limit = 20): Promise<WarmupRunRecord[]> {
    const bounded = Math.max(1, Math.min(1000, Math.trunc(limit)))
    const rows = await this.db.query<WarmupRunRow>(`SELECT ${COLUMNS} FROM warmup_runs ORDER BY started_at DESC, id DESC LIMIT $1`, [bounded])
    return rows.map(toRecord)
  }

  /** Newest first, `limit` runs after skipping `offset` (the admin API's pages of runs). */
  async page(offset: number, limit: number): Promise<WarmupRunRecord[]> {
    const rows = await this.db.query<WarmupRunRow>(`SELECT ${COLUMNS} FROM warmup_runs ORDER BY started_at DESC, id DESC LIMIT $1 OFFSET $2`, [Math.max(1, Math.trunc(limit)), Math.max(0, Math.trunc(offset))])
    return rows.map(toRecord)
  }

  async count(): Promise<number> {
    const [row] = await this.db.query<{ count: number }>('SELECT count(*)::int AS count FROM warmup_runs')
    return row?.count ?? 0
  }

  async lastByTrigger(trigger: string): Promise<WarmupRunRecord | undefined> {
    const rows = await this.db.query<WarmupRunRow>(`SELECT ${COLUMNS} FROM warmup_runs WHERE trigger = $1 ORDER BY started_at DESC, id DESC LIMIT 1`, [trigger])
    return rows[0] && toRecord(rows[0])
  }

  /** The last run of a scheduled job (trigger 'schedule:<job>'). */
  lastForJob(job: string): Promise<WarmupRunRecord | undefined> {
    return this.lastByTrigger(`schedule:${job}`)
  }

  /**
   * Marks this instance's rows still 'running' as 'interrupted' and returns their ids. Call it
   * once at start, before this process begins its own first run: any such row was left by a
   * previous process of this instance that died mid-run.
   */
  async markInterrupted(instance: string, now: Date = new Date()): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `UPDATE warmup_runs SET status = 'interrupted', finished_at = $2,
         duration_ms = GREATEST(0, (EXTRACT(EPOCH FROM ($2::timestamptz - started_at)) * 1000)::integer)
       WHERE instance = $1 AND status = 'running' RETURNING id`,
      [instance, now.toISOString()],
    )
    return rows.map((row) => row.id).sort()
  }
}
