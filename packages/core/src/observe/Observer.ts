/**
 * The observer seam: the one place lifecycle logs, OpenTelemetry spans and metrics hang off. The engine calls
 * it where an execution begins and ends, around each live operation (each attempt of a step), and for
 * executor-wide events (recoveries, takeovers, DEAD workflows). An engine with no observer pays one
 * `undefined` check per operation.
 */
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
  /** A live operation begins (a step's attempt, a sleep, a wait …); replayed ones are not observed. */
  readonly operation?: (operation: OperationInfo) => OperationObserver | undefined
  readonly end: (end: ExecutionEndInfo) => void
}

export interface OperationInfo {
  readonly kind: OperationKind
  readonly name: string
  readonly stepId: number
  /** Steps: which attempt (1, 2, …); each attempt is observed on its own. */
  readonly attempt?: number
}

export interface OperationEndInfo {
  /** The operation failed: the step's error, or an engine problem that stopped it. */
  readonly error?: unknown
  /** A failed step attempt that will be retried after this long. */
  readonly retryInMs?: number
}

export interface OperationObserver {
  /** Runs a step body, so that user code inside it happens in this scope. */
  readonly run?: <A>(fn: () => A) => A
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
  /** A workflow recovered too often without progress: DEAD, until someone resumes it. */
  | {
      readonly type: "dead"
      readonly workflowId: string
      readonly workflowName: string
      readonly recoveryAttempts: number
      readonly executorId: string
      readonly appVersion: string
    }
