/**
 * The management API as Effects: each method of the one Promise surface (types.ts), wrapped the same way,
 * so the Effect flavour cannot drift from it.
 */
import type { Effect } from "effect"
import {
  DuplicateEnqueue,
  EngineStopped,
  InvalidArgument,
  PayloadTooLargeError,
  SchemaMismatchError,
  SerializationError,
  StoreError,
  WorkflowNotFound,
} from "../errors.ts"
import { fromPromise, instanceOf } from "../effect/handle.ts"
import type { ManagementApi } from "./types.ts"

/**
 * Why a management call failed: bad arguments, no such workflow, an input that cannot be stored, a resume
 * whose deduplication id another workflow holds, the store.
 */
export type ManagementError =
  | WorkflowNotFound
  | InvalidArgument
  | SchemaMismatchError
  | SerializationError
  | PayloadTooLargeError
  | DuplicateEnqueue
  | StoreError
  | EngineStopped

export const isManagementError = instanceOf(
  WorkflowNotFound,
  InvalidArgument,
  SchemaMismatchError,
  SerializationError,
  PayloadTooLargeError,
  DuplicateEnqueue,
  StoreError,
  EngineStopped,
)

/** A Promise method as an Effect with the management errors in its error channel. */
type AsEffect<F> = F extends (...args: infer A) => Promise<infer R>
  ? (...args: A) => Effect.Effect<R, ManagementError>
  : never

/** Every method of a Promise API as an Effect. */
export type Effectful<T> = { readonly [K in keyof T]: AsEffect<T[K]> }

/** `workflows`, `queues` and `executors` as Effects (the Effect flavour of ManagementApi). */
export interface ManagementService {
  readonly workflows: Effectful<ManagementApi["workflows"]>
  readonly queues: Effectful<ManagementApi["queues"]>
  readonly executors: Effectful<ManagementApi["executors"]>
}

const wrap = <T extends object>(api: T): Effectful<T> =>
  Object.fromEntries(
    Object.entries(api).map(([name, method]) => [
      name,
      (...args: unknown[]) =>
        fromPromise(() => (method as (...a: unknown[]) => Promise<unknown>)(...args), isManagementError),
    ]),
  ) as Effectful<T>

export const toEffect = (api: ManagementApi): ManagementService => ({
  workflows: wrap(api.workflows),
  queues: wrap(api.queues),
  executors: wrap(api.executors),
})
