/** What an execution needs from the engine that runs it. */
import type { Clock, Context, Effect } from "effect"
import type { FencedError, StoreError } from "../errors.ts"
import type { Serializer } from "../serialization/Serializer.ts"
import type { ParentLink, Store, Wake } from "../store/Store.ts"
import type { AnyWorkflow } from "../workflow.ts"
import type { DurationInput } from "../duration.ts"
import type { EnqueueRequestOf } from "./enqueue.ts"
import type { HandleHost } from "./handle.ts"
import type { LogSink } from "./log.ts"
import type { WaitingOnTime } from "./storeAccess.ts"
import type { Execution } from "./Execution.ts"

export interface Host {
  readonly store: Store
  readonly serializer: Serializer
  readonly clock: Clock.Clock
  readonly executorId: string
  readonly maxPayloadBytes: number
  readonly log: LogSink
  /** Observer.carry, when an observer carries context: called where a workflow is created, stored with it. */
  readonly carry: (() => string | undefined) | undefined
  /** Services Effect-flavour workflow code runs with (the clock included). */
  readonly services: Context.Context<never>
  /** Run an Effect with the engine's services; `signal` interrupts it. */
  readonly runEffect: <A, E>(effect: Effect.Effect<A, E, any>, signal?: AbortSignal) => Promise<A>
  /**
   * Run a store operation, retrying transient failures; rejects with FencedError or a final StoreError.
   * `waiting`: for a call an operation makes (it is not waiting already), tells observers that the execution
   * waits on time between two attempts.
   */
  readonly storeCall: <A>(
    effect: Effect.Effect<A, StoreError | FencedError>,
    signal?: AbortSignal,
    waiting?: WaitingOnTime,
  ) => Promise<A>
  /**
   * Resolves when step bodies may start on this executor (it still holds its lease) and, for `exec`, when its
   * ownership was confirmed since the last lapse (else the execution is stopped: check it is alive after).
   */
  readonly stepGate: (exec?: Execution) => Promise<void>
  /** The step gate, checked synchronously: false when `stepGate` would wait (call it, then check again). */
  readonly stepMayStart: (exec: Execution) => boolean
  /** Aborted (with EngineStopped) when the engine stops: callers waiting outside workflows give up. */
  readonly stopSignal: AbortSignal
  /**
   * Let a sleeping execution leave memory: the engine runs it again from its history at `until`. False, and
   * nothing registered, when it should stay: the sleep is short, parking is off, or the workflow's deadline
   * comes first.
   */
  readonly parkUntil: (exec: Execution, until: number) => boolean
  /**
   * A wait of `exec` for `wakes` (until `deadline`, if any) begins: once it has lasted the engine's
   * `parkWaitsMs` and is still all the workflow does, the execution parks (stops, and runs again from its
   * history when a wake fires or the deadline passes). Returns what to call when the wait ends first;
   * undefined when waits never park here.
   */
  readonly parkWaiting: (
    exec: Execution,
    wakes: ReadonlyArray<Wake>,
    deadline: number | undefined,
  ) => (() => void) | undefined
  /** Starting and enqueueing child workflows, and reading their outcomes. */
  readonly children: ChildHost
}

export interface ChildHost {
  /** The engine's app version, stored with the runs workflow code debounces. */
  readonly appVersion: string
  /** Start (or attach to) a workflow on this executor; resolves with its id once it is stored. */
  readonly start: (
    workflow: AnyWorkflow,
    input: unknown,
    options: { readonly id: string; readonly timeout?: DurationInput; readonly parent: ParentLink },
  ) => Promise<string>
  readonly enqueue: (request: EnqueueRequestOf) => Promise<string[]>
  readonly handles: HandleHost
}
