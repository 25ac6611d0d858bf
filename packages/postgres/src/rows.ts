/** Rows to the Store port's records and back. Drivers return int8 as strings or bigints: normalise. */
import type { CancelReason, Checkpoint, OperationKind, WorkflowRecord, WorkflowStatus } from "@durably/core"
import type { Row } from "./client.ts"

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v))
const opt = <K extends string, V>(key: K, v: V | null | undefined): { [P in K]?: V } =>
  (v === null || v === undefined ? {} : { [key]: v }) as { [P in K]?: V }
const optNum = <K extends string>(key: K, v: unknown): { [P in K]?: number } =>
  (v === null || v === undefined ? {} : { [key]: num(v) }) as { [P in K]?: number }

export const toWorkflow = (r: Row): WorkflowRecord => ({
  id: r["id"] as string,
  name: r["name"] as string,
  status: r["status"] as WorkflowStatus,
  input: r["input"] as string,
  ...opt("output", r["output"] as string | null),
  ...opt("error", r["error"] as string | null),
  ...opt("cancelReason", r["cancel_reason"] as CancelReason | null),
  ...opt("executorId", r["executor_id"] as string | null),
  epoch: num(r["epoch"]),
  appVersion: r["app_version"] as string,
  recoveryAttempts: num(r["recovery_attempts"]),
  ...optNum("deadline", r["deadline_ms"]),
  createdAt: num(r["created_ms"]),
  updatedAt: num(r["updated_ms"]),
  ...optNum("completedAt", r["completed_ms"]),
  ...opt("queue", r["queue"] as string | null),
  ...opt("partitionKey", r["partition_key"] as string | null),
  ...opt("parentId", r["parent_id"] as string | null),
  ...optNum("parentStep", r["parent_step"]),
  ...opt("traceContext", r["trace_context"] as string | null),
})

export const toCheckpoint = (r: Row): Checkpoint => ({
  stepId: num(r["step_id"]),
  name: r["name"] as string,
  kind: r["kind"] as OperationKind,
  state: r["state"] as "pending" | "done",
  ...optNum("seq", r["seq"]),
  ...opt("output", r["output"] as string | null),
  ...opt("error", r["error"] as string | null),
  attempts: num(r["attempts"]),
  ...opt("attemptErrors", r["attempt_errors"] as string | null),
  ...optNum("wakeAt", r["wake_at_ms"]),
  startedAt: num(r["started_ms"]),
  ...optNum("completedAt", r["completed_ms"]),
})

/** Parameters $3..$14 of the checkpoint insert. */
export const checkpointParams = (c: Checkpoint): unknown[] => [
  c.stepId,
  c.name,
  c.kind,
  c.state,
  c.seq ?? null,
  c.output ?? null,
  c.error ?? null,
  c.attempts,
  c.attemptErrors ?? null,
  c.wakeAt ?? null,
  c.startedAt,
  c.completedAt ?? null,
]
