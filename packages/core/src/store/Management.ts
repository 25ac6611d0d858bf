/**
 * The Management port: what operators, scripts, the CLI and the dashboard need from storage (list, inspect,
 * cancel, resume, fork, delete, prune, queue and executor statistics). It sits beside the engine's hot-path
 * Store port, on the same data, so the engine's port stays small and a client needs no engine.
 *
 * Like the Store port it speaks stored text (serialized payloads) and epoch milliseconds; the public API
 * (management/api.ts) revives values and validates arguments before calling it.
 */
import type { Effect } from "effect"
import type { StoreError } from "../errors.ts"
import type { Checkpoint, QueueConfig, WorkflowRecord, WorkflowStatus } from "./Store.ts"

/** Which workflows an operation applies to; every given field must match. */
export interface StoredFilter {
  readonly ids?: ReadonlyArray<string>
  readonly status?: ReadonlyArray<WorkflowStatus>
  readonly names?: ReadonlyArray<string>
  readonly idPrefix?: string
  readonly queue?: string
  /** `null`: owned by no executor. */
  readonly executorId?: string | null
  readonly appVersion?: string
  readonly parentId?: string
  /** Created at or after (ms). */
  readonly createdAfter?: number
  /** Created before (ms). */
  readonly createdBefore?: number
  /** Updated at or after (ms). */
  readonly updatedAfter?: number
}

/** A keyset page: ordered by (createdAt, id), starting after `after`. */
export interface PageRequest {
  readonly limit: number
  readonly order: "asc" | "desc"
  readonly after?: { readonly createdAt: number; readonly id: string }
  /** Leave the input (and output, error) out of the rows when not asked for: they can be large. */
  readonly includeInput: boolean
  readonly includeOutput: boolean
}

/** A workflow row with everything the management plane shows. Omitted payloads are undefined. */
export interface StoredWorkflow extends Omit<WorkflowRecord, "input"> {
  readonly input?: string
  readonly priority: number
  readonly deduplicationId?: string
  readonly delayUntil?: number
  readonly timeoutMs?: number
  /** When a queue claim started it. */
  readonly startedAt?: number
  readonly forkedFrom?: string
  readonly detached: boolean
}

/** What a workflow's operations wrote besides their checkpoints, keyed by the step that wrote it. */
export interface StoredHistory {
  readonly checkpoints: ReadonlyArray<Checkpoint>
  readonly events: ReadonlyArray<{ readonly stepId: number; readonly key: string; readonly value: string }>
  readonly streamValues: ReadonlyArray<{
    readonly stepId: number
    readonly key: string
    readonly offset: number
    readonly value: string
  }>
  readonly streamCloses: ReadonlyArray<{ readonly stepId: number; readonly key: string }>
}

export type ResumeResult =
  | { readonly _tag: "Resumed"; readonly record: WorkflowRecord }
  | { readonly _tag: "NotFound" }
  /** Running (and of the version asked for), or succeeded: nothing to resume. */
  | { readonly _tag: "NotResumable"; readonly status: WorkflowStatus }
  /** Another active workflow of its queue took its deduplication id meanwhile: resuming would make two. */
  | {
      readonly _tag: "DeduplicationTaken"
      readonly queue: string
      readonly deduplicationId: string
      readonly existingId: string
    }

export interface ForkRequest {
  readonly sourceId: string
  /** The first step id that runs live; the source's checkpoints before it are copied. */
  readonly fromStep: number
  readonly id: string
  readonly appVersion?: string
  /** Put the fork on this queue (ENQUEUED) instead of leaving it PENDING for any executor. */
  readonly queue?: string
  /** A new serialized input; default the source's. */
  readonly input?: string
}

export type ForkResult =
  | { readonly _tag: "Forked"; readonly record: WorkflowRecord }
  | { readonly _tag: "NotFound" }
  /** No checkpoint has `fromStep` (0 is always valid); `lastStep` is the highest recorded, -1 for none. */
  | { readonly _tag: "NoSuchStep"; readonly lastStep: number }
  | { readonly _tag: "IdTaken" }

/** Per queue and partition: how much work is waiting, delayed and running, with the stored settings. */
export interface StoredQueueStats {
  readonly queue: string
  readonly partitionKey?: string
  readonly enqueued: number
  readonly delayed: number
  readonly running: number
  /** Absent for a queue that has work but no stored settings (never launched by name). */
  readonly config?: QueueConfig
}

export interface StoredExecutor {
  readonly executorId: string
  readonly appVersion: string
  /** Last heartbeat, by the store's clock. */
  readonly heartbeatAt: number
  readonly leaseMs: number
  /** Its lease holds (judged by the store's clock). */
  readonly alive: boolean
  /** PENDING workflows it owns. */
  readonly owned: number
}

/** PENDING workflows of an app version that no live executor of that version can run. */
export interface StoredStranded {
  readonly appVersion: string
  readonly count: number
}

export interface Management {
  readonly list: (filter: StoredFilter, page: PageRequest) => Effect.Effect<ReadonlyArray<StoredWorkflow>, StoreError>
  readonly count: (filter: StoredFilter) => Effect.Effect<number, StoreError>
  readonly get: (id: string) => Effect.Effect<StoredWorkflow | undefined, StoreError>
  readonly history: (id: string) => Effect.Effect<StoredHistory, StoreError>
  /**
   * Cancel workflows that are not finished (and, with `children`, their descendants that are not detached);
   * returns the records that changed.
   */
  readonly cancel: (
    ids: ReadonlyArray<string>,
    options: { readonly children: boolean },
  ) => Effect.Effect<ReadonlyArray<WorkflowRecord>, StoreError>
  /**
   * Make a CANCELLED, ERROR or DEAD workflow (or, with `appVersion`, a PENDING one of another version) runnable
   * again from its checkpoints: PENDING with no owner (or back on its queue when it has one), output and error
   * cleared, recovery count reset, epoch bumped (fences any execution still running it), a timed-out one's
   * deadline dropped; `appVersion` moves it to that version.
   */
  readonly resume: (id: string, options: { readonly appVersion?: string }) => Effect.Effect<ResumeResult, StoreError>
  /**
   * A new workflow with the source's name and input (or `input`), its checkpoints before `fromStep`, its
   * events as they stood then and its stream values written before then; PENDING with no owner (or
   * ENQUEUED on `queue`). All or nothing.
   */
  readonly fork: (request: ForkRequest) => Effect.Effect<ForkResult, StoreError>
  /**
   * Delete workflows that are not active (ENQUEUED, DELAYED, PENDING are skipped) and every row they own in
   * every table; with `children`, their descendants too. Returns how many workflows were deleted.
   */
  readonly delete: (
    ids: ReadonlyArray<string>,
    options: { readonly children: boolean },
  ) => Effect.Effect<number, StoreError>
  /**
   * Delete up to `limit` workflows with one of `status` that finished (or last changed) before `before`,
   * with all their rows. `undefined` when another executor is pruning now (`exclusive` only).
   */
  readonly prune: (options: {
    readonly before: number
    readonly status: ReadonlyArray<WorkflowStatus>
    readonly limit: number
    readonly exclusive: boolean
  }) => Effect.Effect<number | undefined, StoreError>
  readonly queues: () => Effect.Effect<ReadonlyArray<StoredQueueStats>, StoreError>
  readonly executors: () => Effect.Effect<ReadonlyArray<StoredExecutor>, StoreError>
  /** PENDING workflows, per app version, of versions that have no live executor. */
  readonly stranded: () => Effect.Effect<ReadonlyArray<StoredStranded>, StoreError>
}
