/**
 * The observer seam: the one place lifecycle logs, OpenTelemetry spans and metrics hang off, and the test
 * kit's knowledge of when an engine is quiet. The engine calls it where an execution begins and ends, around
 * each operation (and each attempt of a step), where an execution waits on time or on the outside world,
 * around store calls, and for executor-wide events (recoveries, takeovers, DEAD workflows). An engine with no
 * observer pays one `undefined` check per operation.
 */
import type { QueuesApi } from "../management/types.ts"
import type { OperationKind } from "../store/Store.ts"

/** Watches an engine. Every member is optional; `Durably.launch({ observers })` takes several. */
export interface Observer {
  /**
   * Called where a workflow is created (`start`, `enqueue`, `ctx.start`, `ctx.enqueue`), in the caller's async
   * context. The text returned is stored with the workflow and handed back, as `carried`, to every execution
   * of it, in whichever process runs it: this is how a trace follows a request into its workflows.
   */
  readonly carry?: () => string | undefined
  /** An execution begins on this executor; what is returned watches it to its end. */
  readonly execution?: (execution: ExecutionInfo) => ExecutionObserver | undefined
  /** Something happened to the executor or to workflows not running here. */
  readonly event?: (event: EngineEvent) => void
  /**
   * The engine has launched: what an observer may read of it while it runs (its queues, for a depth gauge).
   * The function returned is called when the engine stops.
   */
  readonly launched?: (engine: LaunchedEngine) => (() => void) | undefined
  /**
   * An attempt of a store call begins (a claim, a checkpoint, a read …); the function returned ends it. A call
   * that fails transiently is retried after a backoff: each retry is an attempt, and the backoff is not one (an
   * execution whose operation waits for it is reported `waiting` on time meanwhile).
   */
  readonly storeCall?: () => (() => void) | undefined
}

export interface LaunchedEngine {
  readonly executorId: string
  readonly appVersion: string
  readonly queues: QueuesApi
}

/** How the execution came to run here. */
export type ExecutionOrigin = "start" | "queue" | "recovery" | "takeover" | "wake"

export interface ExecutionInfo {
  readonly workflowId: string
  readonly workflowName: string
  readonly executorId: string
  readonly appVersion: string
  readonly origin: ExecutionOrigin
  /** Claims since the workflow last made progress: above zero, an earlier execution stopped short. */
  readonly recoveryAttempts: number
  /** Checkpoints recorded before this execution: it replays them first. */
  readonly recordedSteps: number
  /** The encoded input: a payload, so observers show it only when asked to. */
  readonly input: string
  readonly queue?: string
  /** Enqueue → claim, for a queued workflow's first execution. */
  readonly queuedMs?: number
  /** What `Observer.carry` returned where the workflow was created. */
  readonly carried?: string
  readonly parentId?: string
}

/** How an execution ended here. */
export type ExecutionEndInfo =
  | { readonly status: "SUCCESS"; readonly output: string }
  /** `error`: what the workflow threw (or the NonDeterminismError); `encoded`: as stored. */
  | { readonly status: "ERROR"; readonly error: unknown; readonly encoded: string }
  | { readonly status: "CANCELLED"; readonly reason: "cancelled" | "timeout" }
  /** Left for whoever owns it next: fenced by another executor, a crash, a shutdown, a parked sleep … */
  | { readonly status: "STOPPED"; readonly reason: string }
  /** A bug in the engine or the store, logged; the workflow is left for recovery. */
  | { readonly status: "FAILED"; readonly error: unknown }

/** A span, by its W3C ids: what tracers outside the observer (Effect's) need to make their spans its children. */
export interface TraceParent {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}

export interface ExecutionObserver {
  /** Runs the workflow function, so that what it does (children started, user spans) happens in this scope. */
  readonly run?: <A>(fn: () => A) => A
  /** The execution's span: the Effect flavour makes it the parent of Effect's own spans in the workflow. */
  readonly traceParent?: TraceParent
  /**
   * An operation begins: from the moment the workflow code calls it until its result is handed back to that
   * code (a replayed one too, flagged). A step is observed once so, and then each of its attempts on its own
   * (`attempt` set) around its body.
   */
  readonly operation?: (operation: OperationInfo) => OperationObserver | undefined
  /**
   * The execution waits on time (a sleep, a step's retry delay, a store call's backoff) or on the outside world
   * (a message, an event, a child's end) until the function returned is called. Concurrent branches may wait at
   * once.
   */
  readonly waiting?: (on: WaitKind) => (() => void) | undefined
  readonly end: (end: ExecutionEndInfo) => void
}

export type WaitKind = "time" | "outside"

export interface OperationInfo {
  readonly kind: OperationKind
  readonly name: string
  readonly stepId: number
  /** A step's attempt (1, 2, …), observed around its body. Absent for the operation as a whole. */
  readonly attempt?: number
  /** Its result is taken from the history: nothing runs, the code is catching up. */
  readonly replayed?: boolean
}

export interface OperationEndInfo {
  /** The operation failed: the step's error, or an engine problem that stopped it. */
  readonly error?: unknown
  /** A failed step attempt that will be retried after this long. */
  readonly retryInMs?: number
  /** What `Observer.carry` returned where the message a `recv` consumed was sent (`send` or `ctx.send`). */
  readonly carried?: string
}

export interface OperationObserver {
  /** Runs a step body (for an attempt), or the operation's live part, so that what it does happens in this scope. */
  readonly run?: <A>(fn: () => A) => A
  /** A step attempt's span: the Effect flavour makes it the parent of Effect's own spans in the step body. */
  readonly traceParent?: TraceParent | undefined
  readonly end: (end: OperationEndInfo) => void
}

/** Executor-wide events. */
export type EngineEvent =
  /** Workflows claimed at launch (own, released) or taken over from executors whose lease expired. */
  | {
      readonly type: "recovered" | "takenOver"
      readonly count: number
      readonly executorId: string
      readonly appVersion: string
    }
  /**
   * Store calls have failed for a while (at least 10 s; reported at most every 30 s) and are still retried:
   * nothing is lost, but no workflow progresses meanwhile. `storeRecovered` follows when they succeed again.
   */
  | {
      readonly type: "storeFailing"
      readonly operation: string
      readonly failingForMs: number
      readonly error: unknown
      readonly executorId: string
      readonly appVersion: string
    }
  | {
      readonly type: "storeRecovered"
      readonly operation: string
      readonly failedForMs: number
      readonly executorId: string
      readonly appVersion: string
    }
  /** A workflow recovered too often without progress: DEAD, until someone resumes it. */
  | {
      readonly type: "dead"
      readonly workflowId: string
      readonly workflowName: string
      readonly recoveryAttempts: number
      readonly executorId: string
      readonly appVersion: string
    }
