/**
 * The Store port: everything the engine needs from durable storage, and nothing more.
 *
 * Each operation is shaped so that a SQL store does it in one round trip. Every write that an execution
 * makes carries the epoch it claimed the workflow with; the store refuses it (`FencedError`) when the epoch
 * moved on (another executor claimed the workflow) or the workflow is no longer PENDING (cancelled), so a
 * zombie can never overwrite the work of whoever took over.
 */
import type { Effect } from "effect"
import type { FencedError, StoreError, StreamClosedError } from "../errors.ts"
import type { Management } from "./Management.ts"
import type { EnqueueRequest, EnqueueResult, QueueClaim, QueueClaimRequest, QueueConfig } from "./queueTypes.ts"

import type { ScheduleStore } from "./scheduleTypes.ts"
import type { DebounceStore } from "./debounceTypes.ts"

export type * from "./queueTypes.ts"
export type * from "./scheduleTypes.ts"
export type * from "./debounceTypes.ts"
export type * from "./Management.ts"

export type WorkflowStatus = "ENQUEUED" | "DELAYED" | "PENDING" | "SUCCESS" | "ERROR" | "CANCELLED" | "DEAD"

/** Every status, in the order of a workflow's life. */
export const workflowStatuses: ReadonlyArray<WorkflowStatus> = [
  "ENQUEUED",
  "DELAYED",
  "PENDING",
  "SUCCESS",
  "ERROR",
  "CANCELLED",
  "DEAD",
]

export const terminalStatuses: ReadonlySet<WorkflowStatus> = new Set(["SUCCESS", "ERROR", "CANCELLED"])

/** Why a CANCELLED workflow stopped. */
export type CancelReason = "cancelled" | "timeout"

/** One workflow execution as stored. Payloads are serialized text; times are epoch milliseconds. */
export interface WorkflowRecord {
  readonly id: string
  readonly name: string
  readonly status: WorkflowStatus
  readonly input: string
  readonly output?: string
  readonly error?: string
  readonly cancelReason?: CancelReason
  /** The executor that owns (runs) it; absent when released for anyone to take. */
  readonly executorId?: string
  /** Bumped by every claim; writes must carry the current one. */
  readonly epoch: number
  readonly appVersion: string
  /** Claims since the workflow last made progress (new checkpoints); past the limit it becomes DEAD. */
  readonly recoveryAttempts: number
  /** Absolute instant after which the workflow is timed out. */
  readonly deadline?: number
  readonly createdAt: number
  readonly updatedAt: number
  readonly completedAt?: number
  /** The queue it was enqueued on, and its partition there. */
  readonly queue?: string
  readonly partitionKey?: string
  /** The workflow that started or enqueued it (a child), and that operation's step. */
  readonly parentId?: string
  readonly parentStep?: number
  /** Opaque text an observer asked to store where the workflow was created (a trace context): see Observer.carry. */
  readonly traceContext?: string
  /**
   * On the records a queue claim returns: how many checkpoints it had before this claim (a workflow resumed onto
   * its queue, or forked onto one, has some). Absent or 0: none, so the engine loads no history.
   */
  readonly priorCheckpoints?: number
}

/** A child's link to the workflow that started it. */
export interface ParentLink {
  readonly id: string
  readonly step: number
  /** A detached child outlives the cancellation of its parent. */
  readonly detached: boolean
}

export interface NewWorkflow {
  readonly id: string
  readonly name: string
  readonly input: string
  readonly appVersion: string
  /** The executor that will run it right away (status PENDING, epoch 1). */
  readonly executorId: string
  readonly deadline?: number
  readonly parent?: ParentLink
  /** Stored as is and returned on the record (see WorkflowRecord.traceContext). */
  readonly traceContext?: string
}

export type CreateResult =
  | { readonly _tag: "Created"; readonly record: WorkflowRecord }
  | { readonly _tag: "Existing"; readonly record: WorkflowRecord }

/** Operation kinds, recorded with each checkpoint so replay can tell when the code changed. */
export type OperationKind =
  | "step"
  | "sleep"
  | "now"
  | "random"
  | "uuid"
  | "transaction"
  | "send"
  | "recv"
  | "setEvent"
  | "getEvent"
  | "writeStream"
  /*
   * Port change (engine side): closing a stream from workflow code is its own kind, so that replay tells a
   * close from a write of the same key (both are named by the key).
   */
  | "closeStream"
  /** `ctx.start` / `ctx.enqueue`: the child's id is the output. */
  | "start"
  | "enqueue"
  /** `ctx.debounce`: the id of the run the call joined or added is the output (JSON text). */
  | "debounce"
  /** Awaiting a child: its outcome is the output. */
  | "result"
  /** `ctx.patched`: recorded by executions that take a patch's new code path. */
  | "patch"

/**
 * The record of one `ctx` operation, keyed by (workflow, stepId).
 * A `pending` checkpoint is written by operations that must remember something before they finish:
 * a sleep's wake-up instant, or a step's failed attempts and the instant its next attempt is due.
 */
export interface Checkpoint {
  readonly stepId: number
  readonly name: string
  readonly kind: OperationKind
  readonly state: "pending" | "done"
  /** Completion order within the workflow: replay releases results in this order. Set when done. */
  readonly seq?: number
  /** Serialized result (done, success). */
  readonly output?: string
  /** Serialized error (done, failure). */
  readonly error?: string
  /** Attempts made so far (steps). */
  readonly attempts: number
  /** Serialized array of the errors of failed attempts, oldest first. */
  readonly attemptErrors?: string
  /** Sleep: the wake-up instant. Pending step: when its next attempt is due. */
  readonly wakeAt?: number
  readonly startedAt: number
  readonly completedAt?: number
}

export type ClaimResult =
  | { readonly _tag: "Claimed"; readonly record: WorkflowRecord }
  /** The claim found the workflow over its recovery limit and marked it DEAD. */
  | { readonly _tag: "Dead"; readonly record: WorkflowRecord }
  /** Not PENDING (finished or cancelled meanwhile), or absent. */
  | { readonly _tag: "NotClaimable"; readonly record?: WorkflowRecord }

export interface ClaimOptions {
  /**
   * Count this claim as a recovery attempt. The count restarts when the workflow has written checkpoints
   * since the previous claim (progress).
   */
  readonly countRecovery: boolean
  /** Past this many recovery attempts without progress the claim marks the workflow DEAD instead. */
  readonly maxRecoveryAttempts: number
}

export interface TakeOverOptions {
  /** Only workflows of this application version (code that can replay them). */
  readonly appVersion: string
  /** Only workflows with these names (the ones this executor has code for). */
  readonly names: ReadonlyArray<string>
  /** At most this many. */
  readonly limit: number
  /** Also this executor's own PENDING workflows (at launch, after a restart). */
  readonly includeOwn: boolean
  /** Also workflows whose owner's lease expired (failover); workflows with no owner are always included. */
  readonly includeExpired: boolean
  readonly maxRecoveryAttempts: number
  /**
   * Never these, even when they qualify: the workflows the calling engine is running (or starting) right
   * now. Claiming one would bump its epoch and fence the live execution's next write.
   */
  readonly exceptIds?: ReadonlyArray<string>
}

/** One heartbeat of a live executor process. */
export interface Heartbeat {
  readonly executorId: string
  readonly appVersion: string
  /** Random per process: another nonce on the row means another live process uses the same executor id. */
  readonly nonce: string
  /** How long the executor counts as alive after this heartbeat, judged by the store's clock. */
  readonly leaseMs: number
}

export interface HeartbeatResult {
  /** The nonce of the previous heartbeat for this executor id, when it was another process's. */
  readonly previousNonce?: string
  /** How long ago (store clock) that previous heartbeat was. */
  readonly previousAgeMs?: number
}

export interface Completion {
  readonly status: "SUCCESS" | "ERROR"
  readonly output?: string
  readonly error?: string
}

export interface ListFilter {
  /** Only these ids. */
  readonly ids?: ReadonlyArray<string>
  readonly status?: ReadonlyArray<WorkflowStatus>
  /** Owned by this executor; `null` for workflows no executor owns (released). */
  readonly executorId?: string | null
  readonly name?: string
  readonly limit?: number
}

/** Something changed on a workflow (status, or a new checkpoint); carries the status it now has. Best effort. */
export type ChangeListener = (status: WorkflowStatus) => void

/** A message to a workflow. Payloads are serialized text, like every other value. */
export interface NewMessage {
  readonly destination: string
  readonly topic: string
  readonly payload: string
  /** Unique per destination: the same key sent twice delivers once. */
  readonly idempotencyKey?: string
  /** What Observer.carry returned where it was sent (a trace context): handed back by the receive that consumes it. */
  readonly traceContext?: string
}

/** The checkpoint a receive wrote, with the consumed message's trace context (when it carried one). */
export type Received = Checkpoint & { readonly traceContext?: string }

export type SendResult =
  | { readonly _tag: "Sent" }
  /** A message with this idempotency key was already delivered to this destination: nothing was added. */
  | { readonly _tag: "Duplicate" }
  /** No workflow has this id: nothing was added. */
  | { readonly _tag: "NotFound" }

/** One value of a stream, or its end. */
export type StreamEntry =
  { readonly key: string; readonly value: string } | { readonly key: string; readonly close: true }

export interface StreamRead {
  /** Values from the requested offset on, in offset order (offsets are 0, 1, 2 … per key). */
  readonly values: ReadonlyArray<{ readonly offset: number; readonly value: string }>
  /** True when the stream was closed and every value up to the close is in `values` (or was before `from`). */
  readonly closed: boolean
}

/**
 * What a subscriber wants to hear about. `status`: the workflow's status changed. `message`: a message for
 * (workflow, topic) arrived. `event`: an event key of the workflow was set. `stream`: a stream key got values.
 */
export type Wake =
  | { readonly kind: "status"; readonly workflowId: string }
  | { readonly kind: "message"; readonly workflowId: string; readonly topic: string }
  | { readonly kind: "event"; readonly workflowId: string; readonly key: string }
  | { readonly kind: "stream"; readonly workflowId: string; readonly key: string }
  /** Work was enqueued on the queue, or a workflow of it finished (a place may be free). */
  | { readonly kind: "queue"; readonly queue: string }
  /** A schedule was created, changed or deleted (not a tick's progress). */
  | { readonly kind: "schedules" }

export interface Store extends ScheduleStore, DebounceStore {
  /** A short name for logs and errors ("memory", "postgres", …). */
  readonly kind: string
  /** The management plane on the same data (list, inspect, cancel, resume, fork, delete, prune): its own port. */
  readonly management: Management
  /** Create the workflow, or return the existing one with that id (never two executions for one id). */
  readonly createWorkflow: (init: NewWorkflow) => Effect.Effect<CreateResult, StoreError>
  /** Take ownership of a PENDING workflow for `executorId`, bumping its epoch (fences the previous owner). */
  readonly claimWorkflow: (
    id: string,
    executorId: string,
    options: ClaimOptions,
  ) => Effect.Effect<ClaimResult, StoreError>
  /** Every checkpoint of a workflow, in one query. */
  readonly loadCheckpoints: (id: string) => Effect.Effect<ReadonlyArray<Checkpoint>, StoreError>
  /**
   * Record a checkpoint if the epoch still holds and the workflow is PENDING; resets the recovery count (progress).
   * Idempotent: when a `done` checkpoint already exists for that step, returns it (the winner) unchanged; a
   * `pending` one is replaced. Fails with `FencedError` when the epoch moved on or the workflow is not PENDING.
   */
  readonly writeCheckpoint: (
    id: string,
    epoch: number,
    checkpoint: Checkpoint,
  ) => Effect.Effect<Checkpoint, FencedError | StoreError>
  /** Finish the workflow (epoch-checked). Returns the final record; fails with `FencedError` if it is not ours. */
  readonly completeWorkflow: (
    id: string,
    epoch: number,
    completion: Completion,
  ) => Effect.Effect<WorkflowRecord, FencedError | StoreError>
  /**
   * Cancel a workflow that is not finished, and its children that are not detached (transitively); returns the
   * record as it now is (undefined when absent).
   */
  readonly cancelWorkflow: (id: string, reason: CancelReason) => Effect.Effect<WorkflowRecord | undefined, StoreError>
  readonly getWorkflow: (id: string) => Effect.Effect<WorkflowRecord | undefined, StoreError>
  readonly listWorkflows: (filter: ListFilter) => Effect.Effect<ReadonlyArray<WorkflowRecord>, StoreError>
  /**
   * Claim, in one batch with exactly one taker each, PENDING workflows nobody owns or whose owner's lease
   * expired (and, with `includeOwn`, this executor's own). Each claim bumps the epoch and counts a recovery.
   * A queued workflow that was not this executor's goes back on its queue instead (status ENQUEUED, returned
   * as NotClaimable, the queue woken), so that the queue's limits decide where it runs next.
   */
  readonly takeOver: (
    executorId: string,
    options: TakeOverOptions,
  ) => Effect.Effect<ReadonlyArray<ClaimResult>, StoreError>
  /** Record that the executor is alive. */
  readonly heartbeat: (beat: Heartbeat) => Effect.Effect<HeartbeatResult, StoreError>
  /** Forget an executor (graceful shutdown), so its lease does not have to expire. */
  readonly removeExecutor: (executorId: string, nonce: string) => Effect.Effect<void, StoreError>
  /** Let go of PENDING workflows owned by `executorId` (all, or just `ids`) so another executor may claim them. */
  readonly releaseWorkflows: (executorId: string, ids?: ReadonlyArray<string>) => Effect.Effect<number, StoreError>
  /** Be told when the workflow changes. In-process for memory; NOTIFY for Postgres. Returns an unsubscribe. */
  readonly watch: (id: string, listener: ChangeListener) => () => void

  // ---- messages, events, streams -------------------------------------------------------------------------
  // Every write a workflow makes carries its epoch and its operation's checkpoint, and happens in one
  // statement or transaction with it, so that a replay never repeats it and a fenced zombie cannot make it.

  /** Send from outside any workflow (`durably.send`). */
  readonly sendMessage: (message: NewMessage) => Effect.Effect<SendResult, StoreError>
  /**
   * `ctx.send`: add the message (its idempotency key is set by the engine from the sender's id and step) and
   * write the send's done checkpoint, epoch-checked, in one go. `NotFound`: nothing was written.
   * `Duplicate` still writes the checkpoint (a replay of a send whose checkpoint was lost).
   */
  readonly sendFromWorkflow: (
    sender: string,
    epoch: number,
    message: NewMessage & { readonly idempotencyKey: string },
    checkpoint: Checkpoint,
  ) => Effect.Effect<SendResult, FencedError | StoreError>
  /**
   * `ctx.recv`: consume the oldest unconsumed message of (workflow, topic) and write `checkpoint` with the
   * message's payload as its output, epoch-checked, in one go; the message is consumed only together with the
   * checkpoint. Returns the checkpoint written (with the message's trace context, if it has one), or undefined
   * when no message is waiting (nothing written). A done checkpoint already at that step (a retried write whose
   * reply was lost) is returned as it stands.
   */
  readonly receiveMessage: (
    id: string,
    epoch: number,
    topic: string,
    checkpoint: Checkpoint,
  ) => Effect.Effect<Received | undefined, FencedError | StoreError>
  /**
   * `ctx.setEvent`: set the workflow's current value of `key` (last write wins), add a history row keyed by
   * the checkpoint's step (so a fork can restore events as of any step), and write the checkpoint; one go.
   * A done checkpoint already at that step is returned as it stands and the event is not set again.
   */
  readonly setEvent: (
    id: string,
    epoch: number,
    key: string,
    value: string,
    checkpoint: Checkpoint,
  ) => Effect.Effect<Checkpoint, FencedError | StoreError>
  /** The current value of an event, or undefined when it was never set. */
  readonly getEvent: (workflowId: string, key: string) => Effect.Effect<string | undefined, StoreError>
  /**
   * Append stream entries (values and closes, possibly for several keys; offsets are assigned in order) and
   * write `checkpoint`, epoch-checked, in one go. Used by `ctx.writeStream`/`closeStream` from workflow code,
   * and by a step's done checkpoint to publish what its successful attempt wrote (attempts that failed or were
   * interrupted publish nothing). A done checkpoint already at that step is returned as it stands and nothing
   * is appended (a retried write whose reply was lost).
   *
   * An entry for a key that is closed (before this call, or by an earlier entry of the same call: a second
   * close included) fails the whole call with `StreamClosedError` and writes nothing. Port change: this was a
   * StoreError of kind "other", which the engine cannot tell from a real database failure (one stops the
   * execution for recovery, the other is the workflow's own mistake and is recorded as the operation's error).
   */
  readonly appendStream: (
    id: string,
    epoch: number,
    entries: ReadonlyArray<StreamEntry>,
    checkpoint: Checkpoint,
  ) => Effect.Effect<Checkpoint, FencedError | StreamClosedError | StoreError>
  /** Read a stream from `from` on (at most `limit` values). A key never written (or no such workflow) reads as empty and open. */
  readonly readStream: (
    workflowId: string,
    key: string,
    from: number,
    limit: number,
  ) => Effect.Effect<StreamRead, StoreError>
  /**
   * Be woken when something of interest may have happened (best effort; always re-read). Memory and PGlite
   * notify in-process; Postgres through LISTEN/NOTIFY sent in the same transaction as the write, with a slow
   * poll (≥ 1 s) as fallback when notifications are unavailable. Returns an unsubscribe.
   */
  readonly subscribe: (wake: Wake, listener: () => void) => () => void
  // ---- queues ---------------------------------------------------------------------------------------------

  /** Store a queue's settings (the last launch that defines a queue wins); returns the settings it replaced. */
  readonly registerQueue: (
    config: QueueConfig,
    appVersion: string,
  ) => Effect.Effect<QueueConfig | undefined, StoreError>
  /** Put workflows on a queue in one go (all or nothing), waking the queue's dispatchers. */
  readonly enqueue: (request: EnqueueRequest) => Effect.Effect<EnqueueResult, StoreError>
  /**
   * Atomically take up to `max` startable workflows of a queue while enforcing every limit of its stored
   * settings; claims of one queue are serialized, so racing executors never exceed a limit together.
   */
  readonly claimQueue: (request: QueueClaimRequest) => Effect.Effect<QueueClaim, StoreError>

  /** Release connections and resources. */
  readonly close: () => Effect.Effect<void>
}
