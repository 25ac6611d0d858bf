/** Effect handles: a workflow execution seen from Effect code, with the workflow's typed error revived. */
import { Effect, Schema } from "effect"
import type { WorkflowHandle, WorkflowOutcome, WorkflowStatusInfo } from "../engine/handle.ts"
import {
  EngineStopped,
  StoreError,
  WorkflowCancelled,
  WorkflowDead,
  WorkflowFailed,
  WorkflowNotFound,
  WorkflowTimedOut,
} from "../errors.ts"
import type { AnyWorkflow, ErrorOf } from "../workflow.ts"

/** Why waiting on a workflow failed (not how the workflow ended). */
export type AwaitError = WorkflowNotFound | StoreError | EngineStopped

/** How a workflow can end other than with its output or its declared error. */
export type EndError = WorkflowFailed | WorkflowCancelled | WorkflowTimedOut | WorkflowDead

/** The typed error a workflow declares with an `error` schema (`never` when it declares none). */
export type DeclaredError<W> = unknown extends ErrorOf<W> ? never : ErrorOf<W>

export interface EffectHandle<O = unknown, E = never> {
  readonly id: string
  /**
   * The output. Fails with the workflow's declared error `E` (the same class, revived from the store) when its
   * `error` schema describes the failure, else with `WorkflowFailed` (its `cause` is the revived error); or with
   * `WorkflowCancelled`, `WorkflowTimedOut`, `WorkflowDead`.
   */
  readonly result: Effect.Effect<O, E | EndError | AwaitError>
  /** Waits for the end and says how it went; fails only when waiting itself fails. */
  readonly outcome: Effect.Effect<WorkflowOutcome<O>, AwaitError>
  /** The stored status now. */
  readonly status: Effect.Effect<WorkflowStatusInfo, AwaitError>
  /** Cancel it (no-op when finished). */
  readonly cancel: Effect.Effect<void, AwaitError>
  /** The same handle in the Promise API. */
  readonly promise: WorkflowHandle<O>
}

/** Run a Promise API call when the Effect runs: rejections `expected` accepts fail, any other is a defect. */
export const fromPromise = <A, E>(call: () => Promise<A>, expected: (u: unknown) => u is E): Effect.Effect<A, E> =>
  Effect.tryPromise({ try: call, catch: (e) => e }).pipe(
    Effect.catch((e): Effect.Effect<never, E> => (expected(e) ? Effect.fail(e) : Effect.die(e))),
  )

/** A guard for rejections that are instances of one of `classes`. */
export const instanceOf =
  <C extends ReadonlyArray<abstract new (...args: any) => unknown>>(...classes: C) =>
  (u: unknown): u is InstanceType<C[number]> =>
    classes.some((c) => u instanceof c)

const isAwaitError = instanceOf(WorkflowNotFound, StoreError, EngineStopped)
const isEndError = instanceOf(WorkflowFailed, WorkflowCancelled, WorkflowTimedOut, WorkflowDead)

/** Wrap a Promise handle; `workflow` (when known) supplies the error schema that types the failure. */
export const makeEffectHandle = <W extends AnyWorkflow | undefined, O>(
  handle: WorkflowHandle<O>,
  workflow: W,
): EffectHandle<O, DeclaredError<W>> => {
  const codec = workflow?.schemas.error
  const declared = (u: unknown): u is DeclaredError<W> => codec !== undefined && Schema.is(codec)(u)
  const isResultError = (u: unknown): u is EndError | AwaitError => isEndError(u) || isAwaitError(u)
  return {
    id: handle.id,
    result: Effect.catch(
      fromPromise(() => handle.result(), isResultError),
      (e): Effect.Effect<never, DeclaredError<W> | EndError | AwaitError> =>
        e instanceof WorkflowFailed && declared(e.cause) ? Effect.fail(e.cause) : Effect.fail(e),
    ),
    outcome: fromPromise(() => handle.outcome(), isAwaitError),
    status: fromPromise(() => handle.status(), isAwaitError),
    cancel: fromPromise(() => handle.cancel(), isAwaitError),
    promise: handle,
  }
}
