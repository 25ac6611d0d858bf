/**
 * The Store port's debounce operations on SQL: one call to the `debounce` function of sql/0008_debounce.sql;
 * for `ctx.debounce`, that call and the caller's checkpoint in one transaction.
 */
import type { Effect } from "effect"
import type { Checkpoint, DebounceRequest, DebounceResult, FencedError, Store, StoreError, Wake } from "@durably/core"
import type { SqlClient } from "./client.ts"
import { schemaIdent } from "./queries.ts"

export interface DebounceOpsDeps {
  readonly client: SqlClient
  readonly schema: string
  readonly channel: string | undefined
  readonly op: <A>(operation: string, run: (now: number) => Promise<A>) => Effect.Effect<A, StoreError>
  /** For the writes that carry an epoch: a refusal stays a FencedError. */
  readonly fencedOr: <A>(
    operation: string,
    run: (now: number) => Promise<A>,
  ) => Effect.Effect<A, FencedError | StoreError>
  /** Write a checkpoint inside the caller's transaction (epoch-checked); what won when it was not written. */
  readonly writeCheckpointIn: (tx: SqlClient, id: string, epoch: number, checkpoint: Checkpoint) => Promise<Checkpoint>
  readonly wrote: (wake: Wake) => void
}

/** Thrown inside the transaction to roll the debounce back when a done checkpoint already stood at the step. */
class Stood {
  readonly checkpoint: Checkpoint
  constructor(checkpoint: Checkpoint) {
    this.checkpoint = checkpoint
  }
}

export const makeDebounceOps = (deps: DebounceOpsDeps): Pick<Store, "debounce" | "debounceFromWorkflow"> => {
  const sql = `SELECT ${schemaIdent(deps.schema)}.debounce($1, $2, $3, $4, $5, $6, $7, $8, $9)::text AS r`
  const debounceIn = async (client: SqlClient, r: DebounceRequest, now: number): Promise<DebounceResult> => {
    const [row] = await client.query<{ r: string }>(sql, [
      r.id,
      r.name,
      JSON.stringify([r.name, r.key]),
      r.input,
      r.appVersion,
      r.delayMs,
      r.maxWaitMs ?? null,
      now,
      deps.channel ?? null,
    ])
    return JSON.parse(row!.r) as DebounceResult
  }
  return {
    debounce: (r) =>
      deps.op("debounce", async (now) => {
        const out = await debounceIn(deps.client, r, now)
        deps.wrote({ kind: "queue", queue: "@debounce" })
        return out
      }),
    debounceFromWorkflow: (caller, epoch, r, cp) =>
      deps.fencedOr("debounceFromWorkflow", async (now) => {
        try {
          const written = await deps.client.transaction(async (tx) => {
            const out = await debounceIn(tx, r, now)
            const mine: Checkpoint = { ...cp, output: JSON.stringify(out.id) }
            const won = await deps.writeCheckpointIn(tx, caller, epoch, mine)
            if (won !== mine) throw new Stood(won)
            return mine
          })
          // Its NOTIFY went with the commit; this wakes the dispatchers of this process.
          deps.wrote({ kind: "queue", queue: "@debounce" })
          return written
        } catch (e) {
          if (e instanceof Stood) return e.checkpoint
          throw e
        }
      }),
  }
}
