/**
 * The management API's public types: what `durably.workflows`, `durably.queues`, `durably.executors` (and the
 * same on a client, in the Effect flavour and in the test kit) take and give. Defined once here.
 */
import type { DurationInput } from "../duration.ts"
import type { CancelReason, OperationKind, QueueConfig, WorkflowStatus } from "../store/Store.ts"

/** An instant: a Date, or epoch milliseconds. */
export type Instant = Date | number

/** Which workflows: every given field must match. */
export interface WorkflowFilter {
  readonly status?: WorkflowStatus | ReadonlyArray<WorkflowStatus>
  /** The workflow's name (or any of several). */
  readonly name?: string | ReadonlyArray<string>
  /** Ids starting with this. */
  readonly idPrefix?: string
  readonly queue?: string
  /** Owned by this executor; `null` for workflows no executor owns. */
  readonly executorId?: string | null
  /** Recorded under this app version. */
  readonly appVersion?: string
  /** Children of this workflow. */
  readonly parentId?: string
  /** Created at or after. */
  readonly createdAfter?: Instant
  /** Created before. */
  readonly createdBefore?: Instant
  /** Changed (status, owner, completion) at or after. */
  readonly updatedAfter?: Instant
}

export interface ListOptions extends WorkflowFilter {
  /** Page size, 1 to 1000. Default 50. */
  readonly limit?: number
  /** `nextCursor` of the previous page, listed with the same filter and order. */
  readonly cursor?: string
  /** By creation time (then id): newest first (`"desc"`, default) or oldest first. */
  readonly order?: "asc" | "desc"
  /** Include each workflow's input (revived). Default false: inputs can be large. */
  readonly includeInput?: boolean
  /** Include each finished workflow's output or error (revived). Default false. */
  readonly includeOutput?: boolean
}

/** One page of a listing. Pages are keyset-based: rows inserted meanwhile never shift or repeat later pages. */
export interface WorkflowPage {
  readonly workflows: ReadonlyArray<WorkflowSummary>
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string
}

/** What a listing shows of one workflow. */
export interface WorkflowSummary {
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
  /** Why a CANCELLED workflow stopped: cancelled, or timed out. */
  readonly cancelReason?: CancelReason
  readonly queue?: string
  readonly partitionKey?: string
  readonly parentId?: string
  /** With `includeInput`. */
  readonly input?: unknown
  /** With `includeOutput`, for a SUCCESS. */
  readonly output?: unknown
  /** With `includeOutput`, for an ERROR: the revived error. */
  readonly error?: unknown
}

/** Everything known of one workflow (`workflows.get`). */
export interface WorkflowDetail extends WorkflowSummary {
  readonly input: unknown
  /** The step of the parent that started or enqueued it. */
  readonly parentStep?: number
  readonly priority: number
  readonly deduplicationId?: string
  /** A queued workflow's delay: not started before then. */
  readonly delayUntil?: Date
  /** A queued workflow's timeout, counted from its start. */
  readonly timeoutMs?: number
  /** When a queue claim started it. */
  readonly startedAt?: Date
  /** The workflow this one was forked from. */
  readonly forkedFrom?: string
  /** Bumped by every claim (each executor that took it). */
  readonly epoch: number
}

/** One `ctx` operation of a workflow, in step order (`workflows.steps`). */
export interface StepRecord {
  readonly stepId: number
  readonly name: string
  readonly kind: OperationKind
  /** `pending`: started, or waiting (a sleep, a retry delay); `done`: its result is recorded. */
  readonly state: "pending" | "done"
  /** Attempts made (steps with retries). */
  readonly attempts: number
  /** The error of each failed attempt, oldest first (revived). */
  readonly attemptErrors: ReadonlyArray<unknown>
  readonly startedAt: Date
  readonly completedAt?: Date
  /** A sleep's wake-up, or a failed step's next attempt. */
  readonly wakeAt?: Date
  /** The recorded result (revived): for a recv, the message it consumed. */
  readonly output?: unknown
  /** The recorded error (revived). */
  readonly error?: unknown
  /** `start` / `enqueue` / `result` of a child workflow: the child's id. */
  readonly childId?: string
  /** Events this operation set. */
  readonly events: ReadonlyArray<{ readonly key: string; readonly value: unknown }>
  /** Stream values this operation (or a step's successful attempt) wrote, and streams it closed. */
  readonly streamValues: ReadonlyArray<{ readonly key: string; readonly offset: number; readonly value: unknown }>
  readonly streamsClosed: ReadonlyArray<string>
}

export interface CancelOptions {
  /** Cancel its children too (not those started `detached`), and theirs. Default true. */
  readonly children?: boolean
}

export interface ResumeOptions {
  /**
   * Move it to this app version (a workflow stranded on a version no executor runs any more). Only do this
   * when the new code replays its history (see `ctx.patched`).
   */
  readonly appVersion?: string
}

export interface ForkOptions {
  /** The first step to run live: a step id (see `steps`), or the name of a step (its first occurrence). */
  readonly fromStep: number | string
  /** The new workflow's id. Default a fresh UUIDv7. */
  readonly id?: string
  /** The app version it runs under. Default: the engine's own; on a client, the source's. */
  readonly appVersion?: string
  /** Put it on this queue instead of letting any executor take it. */
  readonly queue?: string
  /** A different input. Default the source's. */
  readonly input?: unknown
}

export interface DeleteOptions {
  /** Delete its children too, and theirs. Default true. */
  readonly children?: boolean
}

export interface PruneOptions {
  /** Delete workflows that finished longer ago than this. Required. */
  readonly olderThan: DurationInput
  /** Which finished statuses. Default SUCCESS, ERROR and CANCELLED (DEAD ones are kept: they are resumable). */
  readonly status?: WorkflowStatus | ReadonlyArray<WorkflowStatus>
  /** Rows per delete batch. Default 1000. */
  readonly batchSize?: number
}

/** What a bulk operation did: the ids it applied to. */
export interface BulkResult {
  readonly ids: ReadonlyArray<string>
}

/** Workflows that no live executor can run: PENDING under an app version no live executor has. */
export interface StrandedVersion {
  readonly appVersion: string
  readonly count: number
}

/** `workflows.*`: list, inspect and act on workflows. */
export interface WorkflowsApi {
  /** A page of workflows, newest first unless `order: "asc"`. */
  readonly list: (options?: ListOptions) => Promise<WorkflowPage>
  /** How many workflows match. */
  readonly count: (filter?: WorkflowFilter) => Promise<number>
  /** Everything known of one workflow; rejects with WorkflowNotFound. */
  readonly get: (id: string) => Promise<WorkflowDetail>
  /** Its operations in step order, with what each wrote; rejects with WorkflowNotFound. */
  readonly steps: (id: string) => Promise<ReadonlyArray<StepRecord>>
  /** Cancel it (and, by default, its children); a finished one is left as it is. Rejects with WorkflowNotFound. */
  readonly cancel: (id: string, options?: CancelOptions) => Promise<void>
  /** Cancel every unfinished workflow that matches. */
  readonly cancelMany: (filter: WorkflowFilter, options?: CancelOptions) => Promise<BulkResult>
  /**
   * Run a CANCELLED, ERROR, DEAD or timed-out workflow (or, with `appVersion`, one stranded on an old version)
   * again from its last checkpoint. Rejects with WorkflowNotFound, or InvalidArgument for a running or
   * successful one.
   */
  readonly resume: (id: string, options?: ResumeOptions) => Promise<void>
  /** Resume every workflow that matches (those that cannot be resumed are skipped). */
  readonly resumeMany: (filter: WorkflowFilter, options?: ResumeOptions) => Promise<BulkResult>
  /**
   * A new workflow that reuses the checkpoints before `fromStep` (and the events and stream values as they
   * stood then) and runs live from there. Resolves with the new id.
   */
  readonly fork: (id: string, options: ForkOptions) => Promise<string>
  /** Delete a finished workflow and everything it stored (and its children's, by default). */
  readonly delete: (id: string, options?: DeleteOptions) => Promise<void>
  /** Delete workflows that finished longer ago than `olderThan`, in bounded batches; resolves with how many. */
  readonly prune: (options: PruneOptions) => Promise<number>
  /** App versions with PENDING workflows that no live executor can run. */
  readonly stranded: () => Promise<ReadonlyArray<StrandedVersion>>
}

/** One queue (and partition): its work now, and its stored settings. */
export interface QueueInfo {
  readonly name: string
  readonly partitionKey?: string
  readonly enqueued: number
  readonly delayed: number
  readonly running: number
  readonly settings?: QueueConfig
}

export interface QueuesApi {
  /** Every queue with work or settings, per partition. */
  readonly list: () => Promise<ReadonlyArray<QueueInfo>>
}

export interface ExecutorInfo {
  readonly executorId: string
  readonly appVersion: string
  readonly lastHeartbeat: Date
  /** Its lease still holds. */
  readonly alive: boolean
  /** PENDING workflows it owns. */
  readonly workflowsOwned: number
}

export interface ExecutorsApi {
  /** Every executor that heartbeats (or did, and has not shut down). */
  readonly list: () => Promise<ReadonlyArray<ExecutorInfo>>
}

/** The management plane, as the engine, a client and the test kit expose it. */
export interface ManagementApi {
  readonly workflows: WorkflowsApi
  readonly queues: QueuesApi
  readonly executors: ExecutorsApi
}
