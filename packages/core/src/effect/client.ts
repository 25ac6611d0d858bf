/**
 * The client in the Effect flavour: `yield* Durably.client({ store })` (scoped: closed with its scope) gives
 * the management API as Effects plus enqueue by name (one or many), send, getEvent, readStream and handles, with no workflow
 * code.
 */
import { Effect, type Scope } from "effect"
import { launchClient, type ClientOptions, type DurablyClient, type WorkflowRef } from "../client.ts"
import type { EnqueueManyOptions, EnqueueOptions } from "../engine/enqueue.ts"
import { InvalidArgument, StoreError } from "../errors.ts"
import { toEffect, type ManagementService } from "../management/effect.ts"
import type { QueueRef } from "../queues.ts"
import { isEnqueueError, type EnqueueError } from "./errors.ts"
import { fromPromise, instanceOf, makeEffectHandle, type EffectHandle } from "./handle.ts"
import { messagingToEffect, type MessagingService } from "./messaging.ts"

export interface ClientService extends ManagementService, MessagingService {
  /** Put a workflow (by definition or name) on a queue (by definition or name). */
  readonly enqueue: <O = unknown>(
    queue: QueueRef,
    workflow: WorkflowRef,
    input: unknown,
    options?: EnqueueOptions,
  ) => Effect.Effect<EffectHandle<O, never>, EnqueueError>
  /** Enqueue many inputs in one store round trip, all or nothing. */
  readonly enqueueMany: <O = unknown>(
    queue: QueueRef,
    workflow: WorkflowRef,
    inputs: ReadonlyArray<unknown>,
    options?: EnqueueManyOptions<unknown>,
  ) => Effect.Effect<Array<EffectHandle<O, never>>, EnqueueError>
  /** A handle to any workflow by id. */
  readonly handle: <O = unknown>(id: string) => Effect.Effect<EffectHandle<O, never>, InvalidArgument>
  /** The same client in the Promise API. */
  readonly promise: DurablyClient
}

const service = (client: DurablyClient): ClientService => ({
  ...toEffect(client),
  ...messagingToEffect(client),
  enqueue: <O>(queue: QueueRef, workflow: WorkflowRef, input: unknown, options?: EnqueueOptions) =>
    Effect.map(
      fromPromise(() => client.enqueue<O>(queue, workflow, input, options), isEnqueueError),
      (h) => makeEffectHandle<undefined, O>(h, undefined),
    ),
  enqueueMany: <O>(
    queue: QueueRef,
    workflow: WorkflowRef,
    inputs: ReadonlyArray<unknown>,
    options?: EnqueueManyOptions<unknown>,
  ) =>
    Effect.map(
      fromPromise(() => client.enqueueMany<O>(queue, workflow, inputs, options), isEnqueueError),
      (hs) => hs.map((h) => makeEffectHandle<undefined, O>(h, undefined)),
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
