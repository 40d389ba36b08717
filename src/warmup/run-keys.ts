// The per-key results of warmup runs (table warmup_run_keys), so that `warmup --verbose` can
// list every key and the per-group table whichever process ran the warmup: a BullMQ worker on
// another instance, the server the CLI asked. Bounded: the keys of the newest KEPT_RUNS runs.
import type { Queryable } from '../db/database.ts'

export interface WarmupKeyResult {
  key: string
  group: string
  ok: boolean
  durationMs: number
  error?: string
}

export interface GroupTotals {
  group: string
  keys: number
  warmed: number
  failed: number
  ms: number
}

export const KEPT_RUNS = 20

export class WarmupRunKeys {
  constructor(private readonly db: Queryable, private readonly kept = KEPT_RUNS) {}

  async record(runId: string, keys: readonly WarmupKeyResult[]): Promise<void> {
    await this.db.query(
      `INSERT INTO warmup_run_keys (run_id, keys) VALUES ($1, $2::jsonb)
       ON CONFLICT (run_id) DO UPDATE SET keys = EXCLUDED.keys, recorded_at = now()`,
      [runId, JSON.stringify(keys)],
    )
    await this.db.query(
      `DELETE FROM warmup_run_keys WHERE run_id NOT IN (SELECT run_id FROM warmup_run_keys ORDER BY recorded_at DESC, run_id DESC LIMIT $1)`,
      [this.kept],
    )
  }

  /** The keys of a run, or undefined when it has none recorded (still running, too old, or unknown). */
  async get(runId: string): Promise<WarmupKeyResult[] | undefined> {
    const rows = await this.db.query<{ keys: WarmupKeyResult[] | string }>('SELECT keys FROM warmup_run_keys WHERE run_id = $1', [runId])
    if (!rows[0]) return undefined
    return typeof rows[0].keys === 'string' ? (JSON.parse(rows[0].keys) as WarmupKeyResult[]) : rows[0].keys
  }
}

/** The per-group table of a run, groups in the order they first appear. */
export function groupTotals(keys: readonly WarmupKeyResult[]): GroupTotals[] {
  const groups = new Map<string, GroupTotals>()
  for (const key of keys) {
    const row = groups.get(key.group) ?? { group: key.group, keys: 0, warmed: 0, failed: 0, ms: 0 }
    row.keys += 1
    row[key.ok ? 'warmed' : 'failed'] += 1
    row.ms += key.durationMs
    groups.set(key.group, row)
  }
  return [...groups.values()]
}
