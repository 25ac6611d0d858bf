/**
 * The queue tests' vocabulary: the task workflow the worker processes run (fixtures/queueWorker.ts) and the
 * test process enqueues, how the test configures a worker, and the events a worker prints.
 *
 * A task runs `steps` steps; each step body writes its own ledger row when it starts and stamps it when it
 * finishes (support/queueLedger.ts), so every property the tests check is measured from those rows, not from
 * the library's bookkeeping.
 */
import { defineWorkflow, type QueueSettings } from "@durably/core"
import { defineQueue } from "@durably/scheduler"

export const TASK = "durability-queue-task"

export interface TaskInput {
  /** The test's number for the task: its place in the enqueue order. */
  readonly seq: number
  readonly partition?: string
  readonly priority?: number
  readonly steps: number
  /** How long each step body sleeps. */
  readonly sleepMs: number
}

/** What a step returns (and its checkpoint holds): the ledger row its body wrote. */
export interface TaskStepResult {
  readonly row: number
  readonly pid: number
}

export interface TaskOutput {
  readonly rows: ReadonlyArray<number>
}

/** The task as the test process knows it: only its name and input matter for enqueueing; it never runs here. */
export const taskForEnqueue = defineWorkflow(TASK, async (_ctx, _input: TaskInput): Promise<TaskOutput> => {
  throw new Error("queue tasks run in the worker processes only")
})

/** One queue's definition, the same in the test process and in every worker (the last launch stores it). */
export interface QueueSpec {
  readonly name: string
  readonly settings: QueueSettings
}

export const queueOf = (spec: QueueSpec) => defineQueue(spec.name, spec.settings)

export interface QueueWorkerConfig {
  readonly url: string
  readonly schema: string
  /** schema.table of the queue ledger. */
  readonly ledgerTable: string
  readonly executorId: string
  readonly queue: QueueSpec
  readonly heartbeat: { readonly intervalMs: number; readonly leaseMs: number }
  /** How often the store polls when no notification is heard. */
  readonly pollMs?: number
}

export interface QueueWorkerEvents {
  READY: { pid: number; executorId: string }
  LOG: { level: string; message: string; workflowId?: string }
  /** A queue claim that took work: Date.now() when it was asked (≈ the instant the store stamps) and answered. */
  CLAIM: { askedMs: number; answeredMs: number; ids: string[] }
  STOPPED: { pid: number }
}
