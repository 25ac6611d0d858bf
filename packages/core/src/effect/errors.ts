/**
 * The error channels of the Effect flavour's engine and client calls, each a union with its guard: what is in
 * the union fails the Effect, anything else is a defect.
 */
import {
  ConflictingWorkflowError,
  DuplicateEnqueue,
  EngineStopped,
  InvalidArgument,
  PayloadTooLargeError,
  QueueFull,
  SchemaMismatchError,
  SerializationError,
  StoreError,
  WorkflowNotFound,
} from "../errors.ts"
import { isManagementError, type ManagementError } from "../management/effect.ts"
import { instanceOf } from "./handle.ts"

/** Why a workflow could not be started (the input did not fit its schema, the id belongs to another workflow …). */
export type StartError =
  | InvalidArgument
  | ConflictingWorkflowError
  | SchemaMismatchError
  | SerializationError
  | PayloadTooLargeError
  | StoreError
  | EngineStopped

export const isStartError = instanceOf(
  InvalidArgument,
  ConflictingWorkflowError,
  SchemaMismatchError,
  SerializationError,
  PayloadTooLargeError,
  StoreError,
  EngineStopped,
)

/** Why an enqueue was refused: a start error, a full queue, or a duplicate deduplication id. */
export type EnqueueError = StartError | QueueFull | DuplicateEnqueue

export const isEnqueueError = (u: unknown): u is EnqueueError =>
  isStartError(u) || u instanceof QueueFull || u instanceof DuplicateEnqueue

/** Why a message could not be sent (no such workflow, a message that cannot be stored …): a management error. */
export type SendError = ManagementError

export const isSendError = isManagementError

/** Why reading an event or a stream failed (not that the value is missing). */
export type ReadError = WorkflowNotFound | InvalidArgument | StoreError | EngineStopped

export const isReadError = instanceOf(WorkflowNotFound, InvalidArgument, StoreError, EngineStopped)

export const isStoreError = instanceOf(StoreError, EngineStopped)
