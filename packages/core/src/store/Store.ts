/**
 * The Store port: everything the engine needs from durable storage, and nothing more.
 *
 * Each operation is shaped so that a SQL store does it in one round trip. Every write that an execution
 * makes carries the epoch it claimed the workflow with; the store refuses it (`FencedError`) when the epoch
 * moved on (another executor claimed the workflow) or the workflow is no longer PENDING (cancelled), so a
 * zombie can never overwrite the work of whoever took over.
 */
import type { Effect } from "effect"
import type { FencedError, StoreError } from "../errors.ts"

export type WorkflowStatus = "ENQUEUED" | "DELAYED" | "PENDING" | "SUCCESS" | "ERROR" | "CANCELLED" | "DEAD"

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
}

export interface NewWorkflow {
  readonly id: string
  readonly name: string
  readonly input: string
  readonly appVersion: string
  /** The executor that will run it right away (status PENDING, epoch 1). */
  readonly executorId: string
  readonly deadline?: number
}

export type CreateResult =
  | { readonly _tag: "Created"; readonly record: WorkflowRecord }
  | { readonly _tag: "Existing"; readonly record: WorkflowRecord }

/** Operation kinds, recorded with each checkpoint so replay can tell when the code changed. */
export type OperationKind = "step" | "sleep" | "now" | "random" | "uuid" | "transaction"

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

export interface Store {
  /** A short name for logs and errors ("memory", "postgres", …). */
  readonly kind: string
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
  /** Cancel a workflow that is not finished; returns the record as it now is (undefined when absent). */
  readonly cancelWorkflow: (id: string, reason: CancelReason) => Effect.Effect<WorkflowRecord | undefined, StoreError>
  readonly getWorkflow: (id: string) => Effect.Effect<WorkflowRecord | undefined, StoreError>
  readonly listWorkflows: (filter: ListFilter) => Effect.Effect<ReadonlyArray<WorkflowRecord>, StoreError>
  /**
   * Claim, in one batch with exactly one taker each, PENDING workflows nobody owns or whose owner's lease
   * expired (and, with `includeOwn`, this executor's own). Each claim bumps the epoch and counts a recovery.
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
  /** Release connections and resources. */
  readonly close: () => Effect.Effect<void>
}
