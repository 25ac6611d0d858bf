/**
 * Child workflows: `ctx.start`, `ctx.run` and `ctx.enqueue`. A child's id is derived from its parent's id
 * and the starting operation's step (unless the code names one), so a replay that runs the start again finds
 * the same child and attaches to it: one child per start, whatever crashes. The start is recorded; awaiting
 * the child is an operation of its own that records the child's outcome, so a restarted parent neither waits
 * again nor loses the result. Cancelling a parent cancels its children unless they were started detached.
 */
import { toMillis, type DurationInput } from "../duration.ts"
import {
  ConflictingWorkflowError,
  DuplicateEnqueue,
  InvalidArgument,
  PayloadTooLargeError,
  QueueFull,
  SchemaMismatchError,
  SerializationError,
  WorkflowFailed,
  WorkflowNotFound,
} from "../errors.ts"
import { queueName, type QueueRef } from "../queues.ts"
import type { CancelReason, WorkflowRecord, WorkflowStatus } from "../store/Store.ts"
import { isWorkflowDefinition, type AnyWorkflow } from "../workflow.ts"
import { checkEnqueueOptions, type EnqueueOptions } from "./enqueue.ts"
import type { Execution } from "./Execution.ts"
import { toOutcome, type WorkflowOutcome } from "./handle.ts"
import { childId, validateUserId } from "./ids.ts"
import { revive } from "./revive.ts"
import { hasEnded, parkWhenIdle, waitFor } from "./waiting.ts"

export interface ChildOptions {
  /** Defaults to an id derived from the parent's id and this step (stable across replays). */
  readonly id?: string
  /** A detached child is not cancelled with its parent. */
  readonly detached?: boolean
  /** Cancelled as timed out if not finished this long after it started. */
  readonly timeout?: DurationInput
}

/** A child as its parent sees it: awaiting it is recorded, so a replay returns the same answer at once. */
export interface ChildHandle<O = unknown> {
  readonly id: string
  /** The child's output; rejects like `WorkflowHandle.result`. Recorded. */
  readonly result: () => Promise<O>
  /** How the child ended; never rejects for the child's own failure. Recorded. */
  readonly outcome: () => Promise<WorkflowOutcome<O>>
}

/** Errors that answer the request itself (bad input, a full queue …): recorded, so a replay gets the same. */
const requestErrors = new Set([
  ConflictingWorkflowError,
  DuplicateEnqueue,
  InvalidArgument,
  PayloadTooLargeError,
  QueueFull,
  SchemaMismatchError,
  SerializationError,
])
const isRequestError = (e: unknown) => [...requestErrors].some((cls) => e instanceof cls)

/**
 * The common shape of `ctx.start` and `ctx.enqueue`: check the call, then run `start` as a recorded operation
 * whose output is the child's id (an id the code gave, or one derived from this workflow's id and the step).
 */
const recordedStart = async (
  exec: Execution,
  kind: "start" | "enqueue",
  workflow: unknown,
  explicitId: string | undefined,
  start: (def: AnyWorkflow, id: string, stepId: number) => Promise<string>,
): Promise<string> => {
  exec.guard(kind)
  if (!isWorkflowDefinition(workflow))
    throw new InvalidArgument({ reason: `ctx.${kind}: the child must be a workflow definition made by defineWorkflow` })
  if (explicitId !== undefined) validateUserId(explicitId, `ctx.${kind}: id`)
  const outcome = await exec.operation<string>(kind, workflow.name, {}, async (stepId) => {
    try {
      const id = await start(workflow, explicitId ?? childId(exec.id, stepId), stepId)
      return { output: exec.encode(id, undefined, "child id") }
    } catch (e) {
      if (isRequestError(e)) return { error: exec.encodeError(e, undefined, `ctx.${kind}(${workflow.name})`) }
      throw exec.onWriteFailure(e)
    }
  })
  if (!outcome.ok) throw revive(outcome.error, [...requestErrors])
  return outcome.value
}

/** `ctx.start`: start a child workflow on this executor; the start is recorded. */
export const startChild = async <O>(
  exec: Execution,
  workflow: AnyWorkflow,
  input: unknown,
  options: ChildOptions = {},
): Promise<ChildHandle<O>> => {
  if (typeof options !== "object" || options === null)
    throw new InvalidArgument({ reason: "ctx.start: options must be an object" })
  // Checked before the start is recorded: a bad option fails the call and stores nothing.
  if (options.timeout !== undefined) toMillis(options.timeout, "ctx.start: timeout")
  const id = await recordedStart(exec, "start", workflow, options.id, (def, id, stepId) =>
    exec.host.children.start(def, input, {
      id,
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      parent: { id: exec.id, step: stepId, detached: options.detached === true },
    }),
  )
  return childHandle<O>(exec, id)
}

/** `ctx.enqueue`: put a child workflow on a queue; the enqueue is recorded (exactly one across replays). */
export const enqueueChild = async <O>(
  exec: Execution,
  queue: QueueRef,
  workflow: AnyWorkflow,
  input: unknown,
  options: EnqueueOptions = {},
): Promise<ChildHandle<O>> => {
  queueName(queue, "ctx.enqueue: the queue")
  checkEnqueueOptions(options, "ctx.enqueue")
  const id = await recordedStart(exec, "enqueue", workflow, options.id, async (def, id, stepId) => {
    const [enqueued] = await exec.host.children.enqueue({
      queue,
      workflow: def,
      inputs: [input],
      options: () => options,
      parent: { id: exec.id, step: stepId, childId: id },
      api: "ctx.enqueue",
    })
    return enqueued!
  })
  return childHandle<O>(exec, id)
}

interface RecordedEnd {
  readonly name: string
  readonly status: WorkflowStatus
  readonly output?: string
  readonly error?: string
  readonly cancelReason?: CancelReason
  readonly deadline?: number
  readonly recoveryAttempts: number
}

/** The handle of a workflow this one started, enqueued or debounced: awaiting it is recorded. */
export const childHandle = <O>(exec: Execution, id: string): ChildHandle<O> => {
  const ended = async (): Promise<{ readonly name: string; readonly outcome: WorkflowOutcome<O> }> => {
    exec.guard("result")
    const recorded = await exec.operation<RecordedEnd>("result", id, {}, async () => {
      const wakes = [{ kind: "status", workflowId: id }] as const
      const record = await waitFor({
        host: exec.host,
        wakes,
        check: async () => {
          const r = await exec.commit(() => exec.host.store.getWorkflow(id))
          if (!r) throw new WorkflowNotFound({ workflowId: id })
          return hasEnded(r.status) ? r : undefined
        },
        signal: exec.waitingSignal,
        waiting: () => exec.waiting("outside"),
        park: parkWhenIdle(exec, wakes, undefined),
      })
      const end: RecordedEnd = {
        name: record!.name,
        status: record!.status,
        recoveryAttempts: record!.recoveryAttempts,
        ...(record!.output === undefined ? {} : { output: record!.output }),
        ...(record!.error === undefined ? {} : { error: record!.error }),
        ...(record!.cancelReason === undefined ? {} : { cancelReason: record!.cancelReason }),
        ...(record!.deadline === undefined ? {} : { deadline: record!.deadline }),
      }
      return { output: exec.encode(end, undefined, `outcome of child ${id}`) }
    })
    if (!recorded.ok) throw recorded.error
    const end = recorded.value
    const record: WorkflowRecord = { id, input: "", epoch: 0, appVersion: "", createdAt: 0, updatedAt: 0, ...end }
    return { name: end.name, outcome: toOutcome<O>(exec.host.children.handles, record) }
  }
  return {
    id,
    outcome: async () => (await ended()).outcome,
    result: async () => {
      const { name, outcome: o } = await ended()
      if (o.status === "SUCCESS") return o.value
      if (o.status === "ERROR") throw new WorkflowFailed({ workflowId: id, workflowName: name, cause: o.error })
      throw o.error
    },
  }
}

/** `ctx.run`: start a child and await its result. */
export const runChild = async <O>(
  exec: Execution,
  workflow: AnyWorkflow,
  input: unknown,
  options?: ChildOptions,
): Promise<O> => (await startChild<O>(exec, workflow, input, options)).result()
