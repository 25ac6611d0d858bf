/** What the Store port's queue operations take and give (see Store.ts: registerQueue, enqueue, claimQueue). */
import type { WorkflowRecord } from "./Store.ts"

/** The settings of a queue, as stored (periods in milliseconds). Every worker applies the stored ones. */
export interface QueueConfig {
  readonly name: string
  /** Most workflows of the queue running at once, across every executor. */
  readonly concurrency?: number
  /** Most running at once on one executor. */
  readonly workerConcurrency?: number
  /** Most starts in any window of `periodMs`, across every executor. */
  readonly rateLimit?: { readonly limit: number; readonly periodMs: number }
  /** Present: every enqueue needs a partition key, and these limits hold per key. */
  readonly partition?: {
    readonly concurrency?: number
    readonly rateLimit?: { readonly limit: number; readonly periodMs: number }
  }
  /** Enqueues may give a priority (lower runs first). */
  readonly priority: boolean
  /** Most workflows waiting (ENQUEUED or DELAYED); enqueues beyond it fail with QueueFull. */
  readonly maxLength?: number
}

/** One workflow to put on a queue. */
export interface NewQueued {
  readonly id: string
  readonly name: string
  readonly input: string
  readonly partitionKey?: string
  readonly priority?: number
  readonly deduplicationId?: string
  /** Not startable before this instant (status DELAYED until then). */
  readonly delayUntil?: number
  /** Timed out this long after it starts (the clock starts at the claim, not at the enqueue). */
  readonly timeoutMs?: number
  readonly parentStep?: number
  readonly detached?: boolean
  /** A duplicate deduplication id refuses the whole batch (nothing is stored) instead of attaching. */
  readonly failOnDuplicate?: boolean
  /** Stored as is and returned on the record (see WorkflowRecord.traceContext). */
  readonly traceContext?: string
}

export interface EnqueueRequest {
  readonly queue: string
  readonly items: ReadonlyArray<NewQueued>
  readonly appVersion: string
  /** The enqueuing workflow, for `ctx.enqueue` (every item is its child). */
  readonly parentId?: string
}

export type EnqueueOutcome =
  | { readonly _tag: "Created"; readonly id: string }
  /** A workflow with this id exists already (of `name`): the enqueue attaches to it. */
  | { readonly _tag: "Existing"; readonly id: string; readonly name: string }
  /** An active workflow of the queue has this deduplication id: nothing was added. */
  | { readonly _tag: "Duplicate"; readonly id: string; readonly existingId?: string }

export type EnqueueResult =
  | { readonly _tag: "Enqueued"; readonly outcomes: ReadonlyArray<EnqueueOutcome> }
  /**
   * Nothing was stored: an item was a duplicate marked `failOnDuplicate`, or its id belongs to a workflow of
   * another name. The outcomes say which (their Created entries were rolled back).
   */
  | { readonly _tag: "Rejected"; readonly outcomes: ReadonlyArray<EnqueueOutcome> }
  /** The whole batch was refused; nothing was added. */
  | {
      readonly _tag: "Refused"
      readonly reason: "unknown_queue" | "partition_required" | "partition_not_allowed" | "priority_disabled"
    }
  | { readonly _tag: "QueueFull"; readonly waiting: number; readonly maxLength: number }

export interface QueueClaimRequest {
  readonly queue: string
  readonly executorId: string
  /** At most this many (the executor's free room). */
  readonly max: number
  /** Only workflows this executor has code for. */
  readonly names: ReadonlyArray<string>
  /** Claimed workflows are stamped with the claiming executor's version (they have no history yet). */
  readonly appVersion: string
}

export interface QueueClaim {
  /** Now PENDING, owned by the claimer, epoch bumped; in the order they should start. */
  readonly claimed: ReadonlyArray<WorkflowRecord>
  /** When a rate limit or a delay next lets more start (undefined: only a completion or an enqueue will). */
  readonly retryAt?: number
  /**
   * Startable work was left behind that the limits let start now (a SQL claim's pick lost a row that changed
   * while it waited for its lock): the dispatcher looks again soon rather than waiting for a wake-up.
   */
  readonly waiting?: boolean
}
