/**
 * A cancellation that cascades to a workflow's descendants, repeated until a round finds nothing left to cancel.
 * One statement sees the children committed before it began: a child whose creation was under way (its
 * parent still running) is invisible to it. The creation holds the parent's row while it inserts (FOR SHARE,
 * see createWorkflow and enqueue), so the cascade's update of that parent waits for the child to commit, and
 * the next round, a new statement, sees the child and cancels it. A creation that comes after the update waits
 * for this transaction and finds its parent cancelled.
 */
import type { Row, SqlClient } from "./client.ts"

/** Run the cascade `text` in one transaction until a round changes nothing; every row it changed. */
export const cancelTree = (client: SqlClient, text: string, params: ReadonlyArray<unknown>): Promise<Row[]> =>
  client.transaction(async (tx) => {
    const changed: Row[] = []
    for (;;) {
      const rows = await tx.query(text, params)
      if (rows.length === 0) return changed
      changed.push(...rows)
    }
  })
