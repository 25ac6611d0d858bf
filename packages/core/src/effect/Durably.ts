/**
 * The Effect API: a `Durably` service, provided by `Durably.layer(options)` (the options of `Durably.launch`),
 * or wrapped around an engine already launched with the Promise API (`Durably.fromPromise`).
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { resolveConfig, type LaunchOptions } from "../config.ts"
import { fromEngine, type Durably as PromiseDurably } from "../Durably.ts"
import { effectLogSink } from "./logger.ts"
import { Engine, type StartOptions } from "../engine/Engine.ts"
import { InvalidArgument, StoreError, EngineStopped } from "../errors.ts"
import type { EnqueueManyOptions, EnqueueOptions } from "../engine/enqueue.ts"
import type { QueueRef } from "../queues.ts"
import { toEffect, type ManagementService } from "../management/effect.ts"
import { effectClient, type ClientService } from "./client.ts"
import type { ClientOptions } from "../client.ts"
import { schedulesToEffect, type SchedulesService } from "../schedules/effect.ts"
import type { DebounceOptions } from "../engine/debounce.ts"
import type { AnyWorkflow, InputOf, OutputOf, ServicesOf } from "../workflow.ts"
import {
  isEnqueueError,
  isReadError,
  isStartError,
  isStoreError,
  type EnqueueError,
  type ReadError,
  type StartError,
} from "./errors.ts"
import { messagingToEffect, type MessagingService } from "./messaging.ts"
import {
  fromPromise,
  instanceOf,
  makeEffectHandle,
  type AwaitError,
  type DeclaredError,
  type EffectHandle,
  type EndError,
} from "./handle.ts"

/** The Promise API's operations as Effects; `workflows`, `queues`, `executors` are the management API's. */
export interface DurablyService extends ManagementService, MessagingService {
  readonly executorId: string
  readonly appVersion: string
  /** Start a workflow (or attach to the execution that already has `options.id`). */
  readonly start: <W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    options?: StartOptions,
  ) => Effect.Effect<EffectHandle<OutputOf<W>, DeclaredError<W>>, StartError>
  /** Start and await the result. */
  readonly run: <W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    options?: StartOptions,
  ) => Effect.Effect<OutputOf<W>, DeclaredError<W> | StartError | EndError | AwaitError>
  /** Put a workflow on a queue (see the Promise API's `enqueue`). */
  readonly enqueue: <W extends AnyWorkflow>(
    queue: QueueRef,
    workflow: W,
    input: InputOf<W>,
    options?: EnqueueOptions,
  ) => Effect.Effect<EffectHandle<OutputOf<W>, DeclaredError<W>>, EnqueueError>
  /** Enqueue many inputs in one store round trip, all or nothing. */
  readonly enqueueMany: <W extends AnyWorkflow>(
    queue: QueueRef,
    workflow: W,
    inputs: ReadonlyArray<InputOf<W>>,
    options?: EnqueueManyOptions<InputOf<W>>,
  ) => Effect.Effect<Array<EffectHandle<OutputOf<W>, DeclaredError<W>>>, EnqueueError>
  /** A handle to any workflow by id; pass its definition to get its output type and declared error back. */
  readonly handle: {
    <W extends AnyWorkflow>(
      id: string,
      workflow: W,
    ): Effect.Effect<EffectHandle<OutputOf<W>, DeclaredError<W>>, InvalidArgument>
    <O = unknown>(id: string): Effect.Effect<EffectHandle<O, never>, InvalidArgument>
  }
  /** Cancel a workflow: a sleeping or waiting one at once, a running one at its next ctx call. */
  readonly cancel: (id: string) => Effect.Effect<void, ReadError>
  /** Debounce (see the Promise API's `debounce`): the handle of the run the calls with `key` collapse into. */
  readonly debounce: <W extends AnyWorkflow>(
    workflow: W,
    key: string,
    input: InputOf<W>,
    options: DebounceOptions,
  ) => Effect.Effect<EffectHandle<OutputOf<W>, DeclaredError<W>>, StartError>
  /** Schedules stored in the database (see the Promise API's `schedules`), as Effects. */
  readonly schedules: SchedulesService
  /** Take back PENDING workflows this executor owns or nobody owns; succeeds with how many it resumed. */
  readonly recover: Effect.Effect<number, StoreError | EngineStopped>
  /** The same engine in the Promise API. */
  readonly promise: PromiseDurably
}

const makeService = (durably: PromiseDurably): DurablyService => {
  const handle = (id: string, workflow?: AnyWorkflow) =>
    Effect.try({
      try: () => makeEffectHandle(durably.handle(id), workflow),
      catch: (e) => e,
    }).pipe(Effect.catch((e) => (e instanceof InvalidArgument ? Effect.fail(e) : Effect.die(e))))
  const start = <W extends AnyWorkflow>(workflow: W, input: InputOf<W>, options?: StartOptions) =>
    Effect.map(
      fromPromise(() => durably.start(workflow, input, options), isStartError),
      (h) => makeEffectHandle<W, OutputOf<W>>(h, workflow),
    )
  return {
    ...toEffect(durably),
    ...messagingToEffect(durably),
    executorId: durably.executorId,
    appVersion: durably.appVersion,
    start,
    run: (workflow, input, options) => Effect.flatMap(start(workflow, input, options), (h) => h.result),
    handle: handle as DurablyService["handle"],
    enqueue: (queue, workflow, input, options) =>
      Effect.map(
        fromPromise(() => durably.enqueue(queue, workflow, input, options), isEnqueueError),
        (h) => makeEffectHandle(h, workflow),
      ),
    enqueueMany: (queue, workflow, inputs, options) =>
      Effect.map(
        fromPromise(() => durably.enqueueMany(queue, workflow, inputs, options), isEnqueueError),
        (hs) => hs.map((h) => makeEffectHandle(h, workflow)),
      ),
    cancel: (id) => fromPromise(() => durably.cancel(id), isReadError),
    debounce: (workflow, key, input, options) =>
      Effect.map(
        fromPromise(() => durably.debounce(workflow, key, input, options), isStartError),
        (h) => makeEffectHandle(h, workflow),
      ),
    schedules: schedulesToEffect(durably.schedules),
    recover: fromPromise(() => durably.recover(), isStoreError),
    promise: durably,
  }
}

/** The durable workflow engine, as an Effect service. */
export class Durably extends Context.Service<Durably, DurablyService>()("@durably/core/Durably") {
  /**
   * Launch an engine for the layer's lifetime: validates the options, resumes this executor's PENDING workflows
   * (unless `recover: false`), and shuts the engine down when the layer's scope closes. The services the
   * workflows need are taken from the layer's context: `Durably.layer({ … }).pipe(Layer.provide(MyServices))`.
   */
  static layer<W extends AnyWorkflow>(
    options: LaunchOptions<W>,
  ): Layer.Layer<Durably, InvalidArgument | StoreError, ServicesOf<W>> {
    return Layer.effect(
      Durably,
      Effect.gen(function* () {
        // Only the type: resolveConfig captures the whole context it runs in as the engine's services.
        yield* Effect.context<ServicesOf<W>>()
        const config = yield* resolveConfig(options, effectLogSink)
        const engine = yield* Effect.acquireRelease(
          Effect.try({ try: () => new Engine(config), catch: (e) => e }).pipe(
            Effect.catch((e) => (e instanceof InvalidArgument ? Effect.fail(e) : Effect.die(e))),
          ),
          (engine) =>
            Effect.promise(() =>
              engine
                .shutdown()
                .catch((e: unknown) => engine.config.log({ level: "error", message: `shutdown failed: ${String(e)}` })),
            ),
        )
        yield* fromPromise(() => engine.launch(options.recover !== false), instanceOf(StoreError))
        return makeService(fromEngine(engine))
      }),
    )
  }

  /** The service for an engine launched with the Promise API (`await Durably.launch(…)` from `@durably/core`). */
  static fromPromise(durably: PromiseDurably): DurablyService {
    return makeService(durably)
  }

  /** A client with no workflow code, closed with the scope: `const client = yield* Durably.client({ store })`. */
  static client(options: ClientOptions): Effect.Effect<ClientService, InvalidArgument | StoreError, Scope.Scope> {
    return effectClient(options)
  }

  /** A layer providing an engine launched with the Promise API; the caller keeps it (and shuts it down). */
  static layerFromPromise(durably: PromiseDurably): Layer.Layer<Durably> {
    return Layer.succeed(Durably, makeService(durably))
  }
}
