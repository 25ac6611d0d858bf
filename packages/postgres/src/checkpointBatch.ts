/**
 * The parts of a group-committed checkpoint write (sqlStore.ts, queries.ts `writeCheckpoints`): the
 * parameters as one array per column, and the split that keeps a statement from touching the same step twice
 * (which Postgres refuses for an upsert, e.g. the write of a stopped execution still queued beside the write
 * of the workflow's next one).
 */
import type { Checkpoint } from "@durably/core"
import { checkpointParams } from "./rows.ts"

export interface PendingCheckpoint {
  readonly id: string
  readonly epoch: number
  readonly cp: Checkpoint
}

/** A batch item's own outcome: one item's failure is not its neighbours'. */
export type Settled<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: unknown }

export const stepKey = (workflowId: string, stepId: number) => `${stepId}:${workflowId}`

/** Consecutive chunks in which no (workflow, step) appears twice, in arrival order. */
export const distinctSteps = (items: ReadonlyArray<PendingCheckpoint>): PendingCheckpoint[][] => {
  const chunks: Array<{ keys: Set<string>; items: PendingCheckpoint[] }> = []
  for (const item of items) {
    const key = stepKey(item.id, item.cp.stepId)
    // After the last chunk that has this step: a later write of it must commit after the earlier one.
    let at = chunks.length
    while (at > 0 && !chunks[at - 1]!.keys.has(key)) at--
    const chunk = chunks[at] ?? (chunks[at] = { keys: new Set(), items: [] })
    chunk.keys.add(key)
    chunk.items.push(item)
  }
  return chunks.map((c) => c.items)
}

/** $1 ids, $2 epochs, $3.. one array per checkpoint column, in checkpointParams' order. */
export const checkpointColumns = (items: ReadonlyArray<PendingCheckpoint>): unknown[][] => {
  const columns: unknown[][] = [items.map((i) => i.id), items.map((i) => i.epoch)]
  items.forEach((item, row) => {
    checkpointParams(item.cp).forEach((value, col) => {
      ;(columns[col + 2] ??= [])[row] = value
    })
  })
  return columns
}
