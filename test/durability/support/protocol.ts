/**
 * How a test talks to a worker process: one JSON argument in, one event per stdout line out
 * (`TAG {json}`), written synchronously so that a line printed before a SIGKILL is never lost.
 */

/** Where a worker process stops itself (SIGKILL, or SIGSTOP for a zombie), counted per process. */
export type FaultKind =
  /** Inside the n-th step body started here, after its ledger row committed. */
  | "body"
  /** The n-th step body returned; its checkpoint is not written yet. */
  | "beforeCheckpoint"
  /** While the n-th checkpoint write is on the wire: it may or may not commit. */
  | "duringCheckpoint"
  /** The n-th checkpoint committed; the engine has not seen the answer (between checkpoints). */
  | "afterCheckpoint"
  /** The workflow function returned; its completion is not written yet. */
  | "beforeComplete"
  /** While the n-th completion is on the wire. */
  | "duringComplete"
  /** The n-th completion committed; the engine has not seen the answer. */
  | "afterComplete"
  /** A restarted process is loading the checkpoints of the n-th workflow it took back. */
  | "duringRecovery"
  /** Transaction bodies: inside the n-th one, after it inserted its ledger row (nothing is committed yet). */
  | "txBody"
  /** The n-th transaction wrote its checkpoint in the transaction; COMMIT is not sent yet. */
  | "beforeCommit"
  /** While the n-th transaction's COMMIT is on the wire: it may or may not commit. */
  | "duringCommit"
  /** The n-th transaction committed; the engine has not seen the answer. */
  | "afterCommit"

export const faultKinds: ReadonlyArray<FaultKind> = [
  "body",
  "beforeCheckpoint",
  "duringCheckpoint",
  "afterCheckpoint",
  "beforeComplete",
  "duringComplete",
  "afterComplete",
  "duringRecovery",
  "txBody",
  "beforeCommit",
  "duringCommit",
  "afterCommit",
]

export interface Fault {
  readonly kind: FaultKind
  /** The n-th occurrence in this process (1-based). */
  readonly nth: number
  readonly signal: "SIGKILL" | "SIGSTOP"
  /** For the "during" kinds: how long after the call starts the signal comes (0 = next turn of the event loop). */
  readonly delayMs?: number
}

export interface WorkerConfig {
  /** The Durably store's database. */
  readonly url: string
  readonly schema: string
  /** Where step bodies record their side effect (its own database connection, maybe another server). */
  readonly ledgerUrl: string
  /** Schema-qualified ledger table. */
  readonly ledgerTable: string
  readonly executorId: string
  readonly heartbeat: { readonly intervalMs: number; readonly leaseMs: number }
  /** Workflows this process starts (or attaches to, when they exist) after launch. */
  readonly start?: { readonly ids: ReadonlyArray<string>; readonly steps: number }
  /** Start them only when the test sends SIGUSR2 (so it can prepare the database first). */
  readonly startOnSignal?: boolean
  /** How long a step body takes after recording its side effect: uniform in [min, max] ms. */
  readonly stepMs: readonly [number, number]
  readonly fault?: Fault
  /** How often the store polls for other processes' changes to watched workflows. */
  readonly pollMs?: number
  /**
   * What a step is: `ctx.step` whose body records its ledger row on its own connection (default), or
   * `transaction(ctx, …)` whose body inserts it through the transaction's `sql`, committed with the checkpoint.
   */
  readonly bodies?: "step" | "transaction"
}

/** The embedded-store worker (fixtures/embeddedWorker.ts): PGlite in `dir`, the ledger in a file. */
export interface EmbeddedWorkerConfig {
  readonly dir: string
  /** One JSON line per step body run (LedgerLine), appended and fsynced before the body goes on. */
  readonly ledgerFile: string
  readonly executorId: string
  readonly heartbeat: { readonly intervalMs: number; readonly leaseMs: number }
  readonly start: { readonly ids: ReadonlyArray<string>; readonly steps: number }
  /** Start them only when the test sends SIGUSR2. */
  readonly startOnSignal?: boolean
  readonly stepMs: readonly [number, number]
  readonly fault?: Fault
}

/** A line of the embedded worker's ledger file. */
export interface LedgerLine {
  readonly workflowId: string
  readonly step: string
  readonly stepIndex: number
  readonly pid: number
  readonly executor: string
  readonly attempt: number
  readonly value: number
  readonly startedMs: number
  /** Date.now() when the line was written. */
  readonly atMs: number
}

/** Printed after launch. */
export interface ReadyEvent {
  readonly pid: number
  readonly executorId: string
}

/** Printed just before the process signals itself. */
export interface FaultEvent {
  readonly kind: FaultKind
  readonly nth: number
  readonly signal: string
  readonly pid: number
  readonly workflowId?: string
  readonly step?: string
  readonly at: number
}

/** Printed when the store refuses a write of this process (FencedError). */
export interface FencedEvent {
  readonly op: "writeCheckpoint" | "completeWorkflow"
  readonly workflowId: string
  readonly step?: string
  readonly epoch: number
  readonly status?: string
  readonly pid: number
  readonly at: number
}

export interface Events {
  readonly READY: ReadyEvent
  readonly STARTED: { readonly count: number }
  readonly FAULT: FaultEvent
  readonly FENCED: FencedEvent
  readonly LOG: { readonly level: string; readonly message: string; readonly workflowId?: string; readonly at: number }
  /** A heartbeat of this process succeeded. */
  readonly BEAT: { readonly pid: number; readonly at: number }
  readonly STOPPED: { readonly pid: number }
  /** Every workflow this process started (or attached to) has finished. */
  readonly FINISHED: { readonly count: number; readonly statuses: Record<string, number> }
  /** The embedded store refused to open its directory (DirectoryLocked): the error's tag and message. */
  readonly LOCKED: { readonly pid: number; readonly error: string; readonly message: string }
}

export type EventTag = keyof Events
