/**
 * Every error Durably raises is a tagged error: an `Error` subclass with a `_tag`, so Promise users can
 * `instanceof`-check it and Effect users can `Effect.catchTag` it. Messages are written for the person
 * reading a log: they name the workflow, the step and what to do next.
 */
import { Data } from "effect"
import { describeValue } from "./echo.ts"

/**
 * A cause in words, for a message. Never throws: a revived cause can be anything a workflow threw, and
 * `String()` throws on an object with a null prototype or a throwing `toString`, which would turn reading
 * the error's message into a second failure.
 */
const describeCause = (c: unknown): string => {
  try {
    if (c instanceof Error) return `${c.name}: ${c.message}`
    if (typeof c === "object" && c !== null) {
      const json = JSON.stringify(c)
      if (json !== undefined) return json
    }
    return String(c)
  } catch {
    return Object.prototype.toString.call(c)
  }
}

/** The workflow failed; `cause` is its error revived from the store (the same class when a schema declares it). */
export class WorkflowFailed extends Data.TaggedError("WorkflowFailed")<{
  readonly workflowId: string
  readonly workflowName: string
  readonly cause: unknown
}> {
  override get message() {
    return `workflow ${this.workflowName} (${this.workflowId}) failed: ${describeCause(this.cause)}`
  }
}

/** The workflow was cancelled (by `cancel()`, or with its parent). */
export class WorkflowCancelled extends Data.TaggedError("WorkflowCancelled")<{ readonly workflowId: string }> {
  override get message() {
    return `workflow ${this.workflowId} was cancelled`
  }
}

/** The workflow ran past the `timeout` it was started with; its status is CANCELLED. */
export class WorkflowTimedOut extends Data.TaggedError("WorkflowTimedOut")<{
  readonly workflowId: string
  readonly deadline: Date
}> {
  override get message() {
    return `workflow ${this.workflowId} timed out (deadline ${this.deadline.toISOString()})`
  }
}

/** The workflow exceeded its recovery attempts without making progress (a crash loop); resumable by an operator. */
export class WorkflowDead extends Data.TaggedError("WorkflowDead")<{
  readonly workflowId: string
  readonly recoveryAttempts: number
}> {
  override get message() {
    return `workflow ${this.workflowId} is DEAD: it was recovered ${this.recoveryAttempts} times without making progress`
  }
}

/** No workflow has this id in the store. */
export class WorkflowNotFound extends Data.TaggedError("WorkflowNotFound")<{ readonly workflowId: string }> {
  override get message() {
    // The id is the caller's: a short escaped prefix, so a huge or hostile one cannot flood or forge a log.
    return `no workflow with id ${describeValue(this.workflowId)}`
  }
}

/** An id was started for one workflow and is now started for another. */
export class ConflictingWorkflowError extends Data.TaggedError("ConflictingWorkflowError")<{
  readonly workflowId: string
  readonly existingName: string
  readonly requestedName: string
}> {
  override get message() {
    return `workflow id ${describeValue(this.workflowId)} already belongs to workflow ${this.existingName}; it cannot be started as ${this.requestedName}`
  }
}

/** The code no longer does what the recorded history says it did at some position. */
export class NonDeterminismError extends Data.TaggedError("NonDeterminismError")<{
  readonly workflowId: string
  readonly stepId: number
  readonly detail: string
  readonly recorded: ReadonlyArray<string>
  readonly current: ReadonlyArray<string>
}> {
  override get message() {
    const width = Math.max(8, ...this.recorded.map((r) => r.length))
    const rows: string[] = []
    for (let i = 0; i < Math.max(this.recorded.length, this.current.length); i++) {
      const r = this.recorded[i] ?? "(nothing)"
      const c = this.current[i] ?? (i < this.recorded.length ? "(not reached)" : "")
      rows.push(`${i === this.stepId ? ">" : " "} ${String(i).padStart(3)}  ${r.padEnd(width)}  ${c}`)
    }
    return [
      `workflow ${this.workflowId} diverged from its recorded history at operation #${this.stepId}: ${this.detail}`,
      `      #  ${"recorded".padEnd(width)}  now`,
      ...rows,
      'Workflow code must make the same ctx calls in the same order on replay. Guard changed logic with `if (await ctx.patched("name"))` so histories recorded before it keep the old path, or deploy it under a new app version and let the old version\'s workflows finish (workflows.stranded() lists those no executor runs; see docs/operating.md).',
    ].join("\n")
  }
}

/** A value could not be serialized: the path points at the bad part (`$.items[2].callback`). */
export class SerializationError extends Data.TaggedError("SerializationError")<{
  readonly reason: string
  readonly path: string
  readonly workflowId?: string
  readonly step?: string
}> {
  override get message() {
    const where = this.workflowId ? ` in workflow ${this.workflowId}${this.step ? `, ${this.step}` : ""}` : ""
    return `cannot serialize the value at ${this.path}${where}: ${this.reason}`
  }
}

/** A serialized value is larger than `maxPayloadBytes`. */
export class PayloadTooLargeError extends Data.TaggedError("PayloadTooLargeError")<{
  readonly bytes: number
  readonly maxBytes: number
  readonly workflowId: string
  readonly what: string
}> {
  override get message() {
    return `${this.what} of workflow ${this.workflowId} is ${this.bytes} bytes serialized, over maxPayloadBytes (${this.maxBytes}); store large data elsewhere and pass a reference`
  }
}

/** A value did not match the workflow's schema. */
export class SchemaMismatchError extends Data.TaggedError("SchemaMismatchError")<{
  readonly workflowName: string
  readonly what: string
  readonly issue: string
}> {
  override get message() {
    return `${this.what} does not match its schema (workflow ${this.workflowName}): ${this.issue}`
  }
}

/** A step attempt ran past its `timeout`; its signal was aborted and its late result is discarded. */
export class StepTimeoutError extends Data.TaggedError("StepTimeoutError")<{
  readonly step: string
  readonly timeoutMs: number
}> {
  override get message() {
    return `step ${this.step} timed out after ${this.timeoutMs} ms`
  }
}

/** `ctx` was used where it must not be: inside a step body, or after the workflow settled. */
export class InvalidContextUse extends Data.TaggedError("InvalidContextUse")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** An argument was invalid (a bad duration, an empty name, an unknown workflow …). */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** A value was written to a stream (`ctx.writeStream`) after the stream was closed, or it was closed twice. */
export class StreamClosedError extends Data.TaggedError("StreamClosedError")<{
  readonly workflowId: string
  readonly key: string
}> {
  override get message() {
    return `stream ${JSON.stringify(this.key)} of workflow ${this.workflowId} is closed: nothing more can be written to it`
  }
}

/** A write carried a stale epoch: another executor owns this workflow now, so this execution must stop. */
export class FencedError extends Data.TaggedError("FencedError")<{
  readonly workflowId: string
  readonly epoch: number
  readonly status?: string
}> {
  override get message() {
    return `workflow ${this.workflowId}: write at epoch ${this.epoch} refused${this.status ? ` (status ${this.status})` : " (another executor took it over)"}`
  }
}

/**
 * What kind of store failure it was (for SQL stores, from the SQLSTATE or the driver's error code).
 * "invalid-data": the database refused a value (a data exception or a constraint), which no retry can fix.
 */
export type StoreFailureKind =
  "unique-violation" | "serialization" | "deadlock" | "shutdown" | "connection" | "invalid-data" | "other"

/** The store failed in a way that is not about the workflow's own logic (connection lost, …). */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly operation: string
  readonly cause: unknown
  /** Trying again may succeed (the engine retries these with backoff until the store is back). */
  readonly retryable: boolean
  readonly kind?: StoreFailureKind
}> {
  override get message() {
    const c = this.cause
    return `store operation ${this.operation} failed: ${c instanceof Error ? c.message : describeCause(c)}`
  }
}

/** The engine was shut down (or the workflow must stop on this executor) while a caller waited on it. */
export class EngineStopped extends Data.TaggedError("EngineStopped")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/** An enqueue would make the queue's backlog longer than its `maxLength`; nothing was enqueued. */
export class QueueFull extends Data.TaggedError("QueueFull")<{
  readonly queue: string
  readonly waiting: number
  readonly maxLength: number
}> {
  override get message() {
    return `queue ${JSON.stringify(this.queue)} is full: ${this.waiting} workflows are waiting and its maxLength is ${this.maxLength}; try again later`
  }
}

/** A workflow of the queue with this deduplication id is still queued or running; nothing was enqueued. */
export class DuplicateEnqueue extends Data.TaggedError("DuplicateEnqueue")<{
  readonly queue: string
  readonly deduplicationId: string
  /** The workflow that holds the deduplication id (attach to it with `durably.handle(existingId)`). */
  readonly existingId?: string
  /** Set when `workflows.resume` refused this workflow: resumed, it would be a second holder of the id. */
  readonly resumedId?: string
}> {
  override get message() {
    const holder = this.existingId === undefined ? "" : ` (workflow ${this.existingId})`
    if (this.resumedId !== undefined)
      return `workflow ${this.resumedId} cannot be resumed: queue ${JSON.stringify(this.queue)} already has an active workflow with its deduplication id ${JSON.stringify(this.deduplicationId)}${holder}; resume it once that one has finished, or cancel that one first`
    return `queue ${JSON.stringify(this.queue)} already has an active workflow with deduplication id ${JSON.stringify(this.deduplicationId)}${holder}; pass onDuplicate: "attach" to get its handle instead`
  }
}

/** No schedule has this name (`durably.schedules.*`). */
export class ScheduleNotFound extends Data.TaggedError("ScheduleNotFound")<{ readonly name: string }> {
  override get message() {
    return `no schedule is named ${JSON.stringify(this.name)}`
  }
}

/** `schedules.create` with a name a schedule already has (in code or created earlier); nothing changed. */
export class ScheduleExists extends Data.TaggedError("ScheduleExists")<{
  readonly name: string
  readonly origin: "code" | "runtime"
}> {
  override get message() {
    const where = this.origin === "code" ? "defined in code (defineSchedule)" : "created at runtime"
    return `a schedule named ${JSON.stringify(this.name)} exists already (${where}); update it, or delete it first`
  }
}
