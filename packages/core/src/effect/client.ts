/**
 * The client in the Effect flavour: `yield* Durably.client({ store })` (scoped: closed with its scope) gives
 * the management API as Effects plus enqueue by name, send, getEvent and handles, with no workflow code.
 */
import { Effect, Option, type Scope } from "effect"
import { launchClient, type ClientOptions, type DurablyClient, type WorkflowRef } from "../client.ts"
import type { EnqueueOptions } from "../engine/enqueue.ts"
import type { GetEventOptions } from "../engine/events.ts"
import type { SendOptions } from "../engine/messages.ts"
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
import { toEffect, type ManagementService } from "../management/effect.ts"
import type { QueueRef } from "../queues.ts"
import type { TopicRef } from "../topics.ts"
import type { EnqueueError, ReadError, SendError } from "./Durably.ts"
import { fromPromise, instanceOf, makeEffectHandle, type EffectHandle } from "./handle.ts"

export interface ClientService extends ManagementService {
  /** Put a workflow (by definition or name) on a queue (by definition or name). */
  readonly enqueue: <O = unknown>(
    queue: QueueRef,
    workflow: WorkflowRef,
    input: unknown,
    options?: EnqueueOptions,
  ) => Effect.Effect<EffectHandle<O, never>, EnqueueError>
  readonly send: <A = unknown>(
    workflowId: string,
    topic: TopicRef<A>,
    message: A,
    options?: SendOptions,
  ) => Effect.Effect<void, SendError>
  /** `Option.none()` when the timeout passes first or the workflow ended without setting it. */
  readonly getEvent: <A = unknown>(
    workflowId: string,
    key: string,
    options?: GetEventOptions,
  ) => Effect.Effect<Option.Option<A>, ReadError>
  /** A handle to any workflow by id. */
  readonly handle: <O = unknown>(id: string) => Effect.Effect<EffectHandle<O, never>, InvalidArgument>
  /** The same client in the Promise API. */
  readonly promise: DurablyClient
}

const isEnqueueError = instanceOf(
  InvalidArgument,
  ConflictingWorkflowError,
  SchemaMismatchError,
  SerializationError,
  PayloadTooLargeError,
  StoreError,
  EngineStopped,
  QueueFull,
  DuplicateEnqueue,
)
const isSendError = instanceOf(
  WorkflowNotFound,
  InvalidArgument,
  SchemaMismatchError,
  PayloadTooLargeError,
  StoreError,
  EngineStopped,
)
const isReadError = instanceOf(WorkflowNotFound, InvalidArgument, StoreError, EngineStopped)

const service = (client: DurablyClient): ClientService => ({
  ...toEffect(client),
  enqueue: <O>(queue: QueueRef, workflow: WorkflowRef, input: unknown, options?: EnqueueOptions) =>
    Effect.map(
      fromPromise(() => client.enqueue<O>(queue, workflow, input, options), isEnqueueError),
      (h) => makeEffectHandle<undefined, O>(h, undefined),
    ),
  send: (workflowId, topic, message, options) =>
    fromPromise(() => client.send(workflowId, topic, message, options), isSendError),
  getEvent: <A>(workflowId: string, key: string, options?: GetEventOptions) =>
    Effect.map(
      fromPromise(() => client.getEvent<A>(workflowId, key, options), isReadError),
      Option.fromUndefinedOr,
    ),
  handle: <O>(id: string) =>
    Effect.try({ try: () => makeEffectHandle<undefined, O>(client.handle<O>(id), undefined), catch: (e) => e }).pipe(
      Effect.catch((e) => (e instanceof InvalidArgument ? Effect.fail(e) : Effect.die(e))),
    ),
  promise: client,
})

/** Open a client for the scope's lifetime (see the Promise API's `Durably.client`). */
export const effectClient = (
  options: ClientOptions,
): Effect.Effect<ClientService, InvalidArgument | StoreError, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      fromPromise(() => launchClient(options), instanceOf(InvalidArgument, StoreError)),
      (c) => Effect.promise(() => c.close()),
    ),
    service,
  )
