/** Handles: a reference to one workflow execution, in this process or any other that shares the store. */
import { WorkflowCancelled, WorkflowDead, WorkflowFailed, WorkflowNotFound, WorkflowTimedOut } from "../errors.ts"
import type { CancelReason, WorkflowRecord, WorkflowStatus } from "../store/Store.ts"

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

export interface WorkflowStatusInfo {
  readonly id: string
  readonly name: string
  readonly status: WorkflowStatus
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly completedAt?: Date
  readonly executorId?: string
  readonly appVersion: string
  /** Recoveries since the workflow last made progress. */
  readonly recoveryAttempts: number
  readonly deadline?: Date
  readonly cancelReason?: CancelReason
}

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

/** What a handle needs from its engine (or client). */
export interface HandleHost {
  readonly get: (id: string) => Promise<WorkflowRecord | undefined>
  readonly awaitEnd: (id: string) => Promise<WorkflowRecord>
  readonly decodeOutput: (record: WorkflowRecord) => unknown
  readonly decodeError: (record: WorkflowRecord) => unknown
  readonly cancel: (id: string) => Promise<void>
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
    status: async () => {
      const r = await host.get(id)
      if (!r) throw new WorkflowNotFound({ workflowId: id })
      return statusInfo(r)
    },
    cancel: () => host.cancel(id),
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

export const statusInfo = (r: WorkflowRecord): WorkflowStatusInfo => ({
  id: r.id,
  name: r.name,
  status: r.status,
  createdAt: new Date(r.createdAt),
  updatedAt: new Date(r.updatedAt),
  appVersion: r.appVersion,
  recoveryAttempts: r.recoveryAttempts,
  ...(r.completedAt === undefined ? {} : { completedAt: new Date(r.completedAt) }),
  ...(r.executorId === undefined ? {} : { executorId: r.executorId }),
  ...(r.deadline === undefined ? {} : { deadline: new Date(r.deadline) }),
  ...(r.cancelReason === undefined ? {} : { cancelReason: r.cancelReason }),
})
