/**
 * What the bench process and a DBOS child process (./child.ts) exchange. DBOS Transact is a process-global
 * singleton with global registries, so every DBOS measurement runs in a child process of its own: nothing of
 * it (registrations, pools, timers, heap) outlives the measurement or leaks into the Durably rows measured
 * in the bench process. This module imports nothing of DBOS.
 */
import type { Row, Series } from "../../harness.ts"

/** Names the DBOS side uses: the application (scopes its rows in the system database) and its version. */
export const APP_NAME = "durably-bench"
export const APP_VERSION = "bench"
/** DBOS's default schema in its system database (`systemDatabaseSchemaName` left unset). */
export const SYSTEM_SCHEMA = "dbos"

export interface PerStepRequest {
  readonly kind: "perStep"
  readonly quick: boolean
  /** The bench's database: the reference INSERT's table lives in a schema of its own there. */
  readonly benchUrl: string
  /** A fresh database for DBOS, created and dropped by the bench process. */
  readonly systemDatabaseUrl: string
  /** The schema for the reference's table, named (and dropped, whatever the child did) by the bench process. */
  readonly referenceSchema: string
  readonly store: string
}

export interface LatencyRequest {
  readonly kind: "latency"
  readonly quick: boolean
  readonly benchUrl: string
  readonly systemDatabaseUrl: string
  readonly referenceSchema: string
  readonly store: string
}

export interface QueueRequest {
  readonly kind: "queue"
  /** A fresh system database for the drain, another for the enqueue series (as Durably uses two schemas). */
  readonly drainDatabaseUrl: string
  readonly enqueueDatabaseUrl: string
  readonly jobs: number
  readonly concurrency: number
  readonly enqueueCount: number
}

export type ChildRequest = PerStepRequest | LatencyRequest | QueueRequest

/** DBOS's queue, measured the way ./queue/durably.ts measures Durably's (no batch enqueue: DBOS has none). */
export interface DbosQueueMeasure {
  /** `DBOS.startWorkflow(task, { queueName })(input)`, each awaited, nothing serving the queue. */
  readonly enqueueOne: Series
  /** From the worker's `DBOS.launch` call until no workflow of the queue is ENQUEUED or PENDING. */
  readonly drain: Series
  readonly details: Record<string, unknown>
}

export interface ChildResults {
  readonly perStep: Row
  readonly latency: Row[]
  readonly queue: DbosQueueMeasure
}

export type ChildReply =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: string; readonly stack?: string }
