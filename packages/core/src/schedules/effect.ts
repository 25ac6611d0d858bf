/** `durably.schedules` as Effects: each method of the one Promise surface (api.ts), wrapped the same way. */
import type { Effect } from "effect"
import {
  ConflictingWorkflowError,
  DuplicateEnqueue,
  EngineStopped,
  InvalidArgument,
  PayloadTooLargeError,
  QueueFull,
  ScheduleExists,
  ScheduleNotFound,
  SchemaMismatchError,
  SerializationError,
  StoreError,
} from "../errors.ts"
import { fromPromise, instanceOf } from "../effect/handle.ts"
import type { Schedules } from "./api.ts"

/** Why a schedules call failed: no such schedule, a name taken, bad options, a run that could not start, the store. */
export type ScheduleError =
  | ScheduleNotFound
  | ScheduleExists
  | InvalidArgument
  | SerializationError
  | SchemaMismatchError
  | PayloadTooLargeError
  | ConflictingWorkflowError
  | QueueFull
  | DuplicateEnqueue
  | StoreError
  | EngineStopped

const isScheduleError = instanceOf(
  ScheduleNotFound,
  ScheduleExists,
  InvalidArgument,
  SerializationError,
  SchemaMismatchError,
  PayloadTooLargeError,
  ConflictingWorkflowError,
  QueueFull,
  DuplicateEnqueue,
  StoreError,
  EngineStopped,
)

/** `schedules` with each method an Effect. */
export type SchedulesService = {
  readonly [K in keyof Schedules]: Schedules[K] extends (...args: infer A) => Promise<infer R>
    ? (...args: A) => Effect.Effect<R, ScheduleError>
    : never
}

export const schedulesToEffect = (api: Schedules): SchedulesService =>
  Object.fromEntries(
    Object.entries(api).map(([name, method]) => [
      name,
      (...args: unknown[]) =>
        fromPromise(() => (method as (...a: unknown[]) => Promise<unknown>)(...args), isScheduleError),
    ]),
  ) as SchedulesService
