/** The Store port's debounce operation on SQL: one call to the `debounce` function of sql/0008_debounce.sql. */
import type { Effect } from "effect"
import type { Store, StoreError, Wake } from "@durably/core"
import type { SqlClient } from "./client.ts"
import { schemaIdent } from "./queries.ts"

export interface DebounceOpsDeps {
  readonly client: SqlClient
  readonly schema: string
  readonly channel: string | undefined
  readonly op: <A>(operation: string, run: (now: number) => Promise<A>) => Effect.Effect<A, StoreError>
  readonly wrote: (wake: Wake) => void
}

export const makeDebounceOps = (deps: DebounceOpsDeps): Pick<Store, "debounce"> => {
  const sql = `SELECT ${schemaIdent(deps.schema)}.debounce($1, $2, $3, $4, $5, $6, $7, $8, $9)::text AS r`
  return {
    debounce: (r) =>
      deps.op("debounce", async (now) => {
        const [row] = await deps.client.query<{ r: string }>(sql, [
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
        const out = JSON.parse(row!.r) as { id: string; created: boolean }
        deps.wrote({ kind: "queue", queue: "@debounce" })
        return out
      }),
  }
}
