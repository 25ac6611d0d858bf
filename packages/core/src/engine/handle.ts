/** Handles: a reference to one workflow execution, in this process or any other that shares the store. */
import { WorkflowCancelled, WorkflowDead, WorkflowFailed, WorkflowTimedOut } from "../errors.ts"
import type { WorkflowDetail, WorkflowsApi } from "../management/types.ts"
import type { CancelReason, WorkflowRecord } from "../store/Store.ts"

/** How a workflow ended. Never a rejection: inspect `status`. */
export type WorkflowOutcome<O> =
  | { readonly status: "SUCCESS"; readonly value: O }
  | { readonly status: "ERROR"; readonly error: unknown }
  | {
      readonly status: "CANCELLED"
      readonly reason: CancelReason
      readonly error: WorkflowCancelled | WorkflowTimedOut
    }
  | { readonly status: "DEAD"; readonly error: WorkflowDead }

/** What `handle.status()` gives: the same as `workflows.get(id)`. */
export type WorkflowStatusInfo = WorkflowDetail

export interface WorkflowHandle<O = unknown> {
  readonly id: string
  /** The output; rejects with WorkflowFailed (carrying the revived error), WorkflowCancelled, WorkflowTimedOut or WorkflowDead. */
  readonly result: () => Promise<O>
  /** Waits for the end and says how it went; never rejects for the workflow's own failure. */
  readonly outcome: () => Promise<WorkflowOutcome<O>>
  /** The stored status now; rejects with WorkflowNotFound. */
  readonly status: () => Promise<WorkflowStatusInfo>
  /** Cancel it (no-op when finished). */
  readonly cancel: () => Promise<void>
}

/** What a handle needs from its engine (or client): status and cancel are the management API's own. */
export interface HandleHost {
  readonly awaitEnd: (id: string) => Promise<WorkflowRecord>
  readonly decodeOutput: (record: WorkflowRecord) => unknown
  readonly decodeError: (record: WorkflowRecord) => unknown
  readonly workflows: Pick<WorkflowsApi, "get" | "cancel">
}

export const makeHandle = <O>(host: HandleHost, id: string): WorkflowHandle<O> => {
  return {
    id,
    outcome: async () => toOutcome<O>(host, await host.awaitEnd(id)),
    result: async () => {
      const record = await host.awaitEnd(id)
      const o = toOutcome<O>(host, record)
      if (o.status === "SUCCESS") return o.value
      if (o.status === "ERROR") throw new WorkflowFailed({ workflowId: id, workflowName: record.name, cause: o.error })
      throw o.error
    },
    status: () => host.workflows.get(id),
    cancel: () => host.workflows.cancel(id),
  }
}

export const toOutcome = <O>(host: HandleHost, r: WorkflowRecord): WorkflowOutcome<O> => {
  switch (r.status) {
    case "SUCCESS":
      return { status: "SUCCESS", value: host.decodeOutput(r) as O }
    case "ERROR":
      return { status: "ERROR", error: host.decodeError(r) }
    case "CANCELLED":
      return r.cancelReason === "timeout"
        ? {
            status: "CANCELLED",
            reason: "timeout",
            error: new WorkflowTimedOut({ workflowId: r.id, deadline: new Date(r.deadline ?? r.updatedAt) }),
          }
        : { status: "CANCELLED", reason: "cancelled", error: new WorkflowCancelled({ workflowId: r.id }) }
    default:
      return { status: "DEAD", error: new WorkflowDead({ workflowId: r.id, recoveryAttempts: r.recoveryAttempts }) }
  }
}
