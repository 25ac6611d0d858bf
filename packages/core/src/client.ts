/**
 * A client: an engine that runs no workflows. It takes no work (no recovery, no heartbeat, no queue
 * dispatch), so it needs no workflow code; it operates on the store as any engine would: the management
 * API, enqueue by name, messages, events, streams and results.
 */
import { Effect } from "effect"
import { defaultAppVersion, resolveConfig } from "./config.ts"
import { Engine } from "./engine/Engine.ts"
import type { EnqueueManyOptions, EnqueueOptions } from "./engine/enqueue.ts"
import type { WorkflowHandle } from "./engine/handle.ts"
import type { LogSink } from "./engine/log.ts"
import { InvalidArgument } from "./errors.ts"
import type { ManagementApi } from "./management/types.ts"
import { engineMessaging, type Messaging } from "./messaging.ts"
import type { Schedules } from "./schedules/api.ts"
import type { QueueRef } from "./queues.ts"
import type { Serializer } from "./serialization/Serializer.ts"
import type { Store } from "./store/Store.ts"
import { defineWorkflow, isWorkflowDefinition, validateName, type AnyWorkflow } from "./workflow.ts"

export interface ClientOptions {
  readonly store: Store
  /**
   * Definitions the client may know (optional): their schemas validate inputs it enqueues and revive values
   * it reads. Without them values go through the serializer as stored.
   */
  readonly workflows?: ReadonlyArray<AnyWorkflow>
  /** Must match the workers' serializer. Default: the default serializer. */
  readonly serializer?: Serializer
  /** Largest input or message it sends. Default 2 MiB. */
  readonly maxPayloadBytes?: number
  /** The app version stamped on workflows it enqueues (the worker that claims one restamps it). */
  readonly appVersion?: string
  /** Default: info and up on stderr; `false` for none. */
  readonly logger?: LogSink | false
}

/** A workflow by definition or by name. */
export type WorkflowRef = AnyWorkflow | string

/** The management API plus what other services and scripts need, with no workflow code. */
export interface DurablyClient extends ManagementApi, Messaging {
  /** Put a workflow (by definition or name) on a queue (by definition or name); resolves with its handle. */
  readonly enqueue: <O = unknown>(
    queue: QueueRef,
    workflow: WorkflowRef,
    input: unknown,
    options?: EnqueueOptions,
  ) => Promise<WorkflowHandle<O>>
  /** Enqueue many inputs in one store round trip, all or nothing. */
  readonly enqueueMany: <O = unknown>(
    queue: QueueRef,
    workflow: WorkflowRef,
    inputs: ReadonlyArray<unknown>,
    options?: EnqueueManyOptions<unknown>,
  ) => Promise<Array<WorkflowHandle<O>>>
  /** A handle to any workflow: await its result, outcome or status. */
  readonly handle: <O = unknown>(id: string) => WorkflowHandle<O>
  /**
   * Schedules stored in the database: create, list, get, update, pause, resume, delete, and `trigger`/`backfill`
   * of schedules that enqueue their ticks (a client runs no workflow, so one that starts them here refuses).
   */
  readonly schedules: Schedules
  /** Stop waiting and close the store. */
  readonly close: () => Promise<void>
}

/** Stands in for a workflow known only by name: a client never runs it, it only names it in the store. */
const byName = (name: string): AnyWorkflow =>
  defineWorkflow(name, () =>
    Promise.reject(new InvalidArgument({ reason: `a client does not run workflows (${name})` })),
  ) as AnyWorkflow

export const launchClient = async (options: ClientOptions): Promise<DurablyClient> => {
  if (typeof options !== "object" || options === null)
    throw new InvalidArgument({ reason: "Durably.client needs an options object with a store" })
  const config = await Effect.runPromise(
    resolveConfig({
      store: options.store,
      workflows: options.workflows ?? [],
      appVersion: options.appVersion ?? defaultAppVersion(),
      heartbeat: false,
      recover: false,
      ...(options.serializer ? { serializer: options.serializer } : {}),
      ...(options.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: options.maxPayloadBytes }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    }),
  )
  const engine = new Engine({ ...config, executorId: "@client", runsWorkflows: false })
  try {
    await engine.launch(false)
  } catch (e) {
    await engine.abandon()
    throw e
  }
  const workflow = (ref: WorkflowRef, api: string): AnyWorkflow => {
    if (isWorkflowDefinition(ref)) return engine.definition(ref.name) ?? ref
    validateName(ref, `${api}: the workflow name`)
    return engine.definition(ref) ?? byName(ref)
  }
  return {
    workflows: engine.management.workflows,
    queues: engine.management.queues,
    executors: engine.management.executors,
    enqueue: async (queue, ref, input, opts) => engine.enqueue(queue, workflow(ref, "client.enqueue"), input, opts),
    enqueueMany: async (queue, ref, inputs, opts) =>
      engine.enqueueMany(queue, workflow(ref, "client.enqueueMany"), inputs, opts, "client.enqueueMany"),
    handle: (id) => engine.handle(id),
    ...engineMessaging(engine),
    schedules: engine.schedules.api,
    close: () => engine.shutdown(),
  }
}
