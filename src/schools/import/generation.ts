// The data generation (migration 009): a counter that every import which changes data bumps
// in its own transaction, so the new generation becomes visible exactly when the new data does.
// Cached values record the generation they were built from (docs/generations.md).
import type { Queryable } from '../../db/database.ts'

/** Bumps the generation; call inside the import's transaction, only when it changed something. */
export async function bumpGeneration(tx: Queryable): Promise<number> {
  const [row] = await tx.query<{ generation: string }>('UPDATE data_generation SET generation = generation + 1 RETURNING generation')
  if (!row) throw new Error('data_generation has no row (migration 009 not applied?)')
  return Number(row.generation)
}

/** The generation of the data committed now. */
export async function readGeneration(db: Queryable): Promise<number> {
  const [row] = await db.query<{ generation: string }>('SELECT generation FROM data_generation')
  if (!row) throw new Error('data_generation has no row (migration 009 not applied?)')
  return Number(row.generation)
}
