/** The Promise API: `const durably = await Durably.launch({ store, workflows })`. */
import { Effect } from "effect"
import { resolveConfig, type LaunchOptions } from "./config.ts"
import type { DurationInput } from "./duration.ts"
import { Engine, type StartOptions } from "./engine/Engine.ts"
import type { WorkflowHandle } from "./engine/handle.ts"
import type { EnqueueManyOptions, EnqueueOptions } from "./engine/enqueue.ts"
import type { QueueRef } from "./queues.ts"
import type { AnyWorkflow, InputOf, OutputOf, WorkflowDefinition } from "./workflow.ts"
import type { Schedules } from "./schedules/api.ts"
import type { DebounceOptions } from "./engine/debounce.ts"
import type { ManagementApi } from "./management/types.ts"
import { engineMessaging, type Messaging } from "./messaging.ts"
import { launchClient, type ClientOptions, type DurablyClient } from "./client.ts"

/**
 * A running engine. Several may live in one process, on one store or on several. `workflows`, `queues` and
 * `executors` are the management API (list, inspect, cancel, resume, fork, delete, prune: see management/types.ts).
 */
export interface Durably extends ManagementApi, Messaging {
  readonly executorId: string
  readonly appVersion: string
  /** Start a workflow (or attach to the execution that already has `options.id`). */
  readonly start: <W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    options?: StartOptions,
  ) => Promise<WorkflowHandle<OutputOf<W>>>
  /** Start and await the result. */
  readonly run: <W extends AnyWorkflow>(workflow: W, input: InputOf<W>, options?: StartOptions) => Promise<OutputOf<W>>
  /**
   * Put a workflow on a queue; it starts when the queue's limits allow, on a process that serves the queue.
   * Rejects with QueueFull past the queue's maxLength, and with DuplicateEnqueue when an active workflow of
   * the queue has the same `deduplicationId` (unless `onDuplicate: "attach"`). An existing `id` attaches.
   */
  readonly enqueue: <W extends AnyWorkflow>(
    queue: QueueRef,
    workflow: W,
    input: InputOf<W>,
    options?: EnqueueOptions,
  ) => Promise<WorkflowHandle<OutputOf<W>>>
  /** Enqueue many inputs in one store round trip, all or nothing; options for all, or per input. */
  readonly enqueueMany: <W extends AnyWorkflow>(
    queue: QueueRef,
    workflow: W,
    inputs: ReadonlyArray<InputOf<W>>,
    options?: EnqueueManyOptions<InputOf<W>>,
  ) => Promise<Array<WorkflowHandle<OutputOf<W>>>>
  /** A handle to any workflow by id, e.g. one started by another process. */
  readonly handle: <O = unknown>(id: string) => WorkflowHandle<O>
  /** Cancel a workflow: a sleeping or waiting one at once, a running one at its next ctx call. */
  readonly cancel: (id: string) => Promise<void>
  /**
   * Debounce: calls with the same workflow and `key` within `delay` collapse into one run with the latest
   * input, started `delay` after the last call (or `maxWait` after the first), once across every worker.
   * Resolves with the handle of the run that will happen. Any process launched with the workflow starts it.
   */
  readonly debounce: <W extends AnyWorkflow>(
    workflow: W,
    key: string,
    input: InputOf<W>,
    options: DebounceOptions,
  ) => Promise<WorkflowHandle<OutputOf<W>>>
  /** Schedules stored in the database: create, list, pause, trigger, backfill … (see `Schedules`). */
  readonly schedules: Schedules
  /** Take back PENDING workflows this executor owns or nobody owns. Runs at launch; returns how many it resumed. */
  readonly recover: () => Promise<number>
  /** Stop taking work, let running steps checkpoint (up to `timeout`, default 10 s), release the workflows, close the store. */
  readonly shutdown: (options?: { readonly timeout?: DurationInput }) => Promise<void>
}

/** Wrap an engine in the public Promise API. */
export const fromEngine = (engine: Engine): Durably => ({
  executorId: engine.executorId,
  appVersion: engine.appVersion,
  start: (workflow, input, options) => engine.start(workflow, input, options),
  run: async (workflow, input, options) => (await engine.start(workflow, input, options)).result(),
  handle: (id) => engine.handle(id),
  workflows: engine.management.workflows,
  queues: engine.management.queues,
  executors: engine.management.executors,
  enqueue: (queue, workflow, input, options) => engine.enqueue(queue, workflow, input, options),
  enqueueMany: (queue, workflow, inputs, options) => engine.enqueueMany(queue, workflow, inputs, options),
  cancel: (id) => engine.cancel(id),
  ...engineMessaging(engine),
  debounce: (workflow, key, input, options) => engine.debounce(workflow, key, input, options),
  schedules: engine.schedules.api,
  recover: () => engine.recover(),
  shutdown: (options) => engine.shutdown(options),
})

export const Durably = {
  /** Launch an engine: validates the options, then resumes this executor's PENDING workflows. */
  /** Effect workflows that need services run under `Durably.layer` (from `@durably/core/effect`) instead. */
  launch: async <W extends WorkflowDefinition<any, any, any, never>>(options: LaunchOptions<W>): Promise<Durably> => {
    const engine = new Engine(await Effect.runPromise(resolveConfig(options)))
    try {
      await engine.launch(options.recover !== false)
    } catch (e) {
      // Release what the store holds (pools, the embedded store's directory lock) so a retry can succeed.
      await engine.abandon()
      throw e
    }
    return fromEngine(engine)
  },
  /**
   * A client: the management API, enqueue by name, send, getEvent, readStream and results, with no workflow
   * code and no work taken (for other services, scripts, the CLI and the dashboard). `close()` it when done.
   */
  client: (options: ClientOptions): Promise<DurablyClient> => launchClient(options),
}
