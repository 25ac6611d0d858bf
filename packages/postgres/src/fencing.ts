/**
 * Why an epoch-checked write wrote nothing, read from a row with the workflow's `status` and `epoch` (NULL
 * when the workflow is missing) and the columns of the step already at that position (NULL when none).
 */
import { FencedError, type Checkpoint } from "@durably/core"
import type { Row } from "./client.ts"
import { toCheckpoint } from "./rows.ts"

/** The refusal, when the workflow is missing, was claimed again (another epoch) or is not PENDING. */
export const fencedBy = (row: Row | undefined, workflowId: string, epoch: number): FencedError | undefined => {
  const status = row?.["status"]
  if (status === null || status === undefined) return new FencedError({ workflowId, epoch, status: "missing" })
  if (Number(row?.["epoch"]) === epoch && status === "PENDING") return undefined
  return new FencedError({ workflowId, epoch, ...(status === "PENDING" ? {} : { status: status as string }) })
}

/** The done checkpoint already at that step (a retried write whose first attempt committed), if any. */
export const doneIn = (row: Row | undefined): Checkpoint | undefined =>
  row && row["state"] === "done" ? toCheckpoint(row) : undefined
