/**
 * Enqueueing: `durably.enqueue`, `durably.enqueueMany` and (through the same path) `ctx.enqueue`. One store
 * call per batch; the store refuses a request the queue's stored settings forbid, and the answers come back
 * as the errors a user can act on.
 */
import { toMillis, type DurationInput } from "../duration.ts"
import { ConflictingWorkflowError, DuplicateEnqueue, InvalidArgument, QueueFull } from "../errors.ts"
import { isQueueDefinition, queueName, type QueueRef } from "../queues.ts"
import type { EnqueueResult, NewQueued, Store } from "../store/Store.ts"
import type { AnyWorkflow } from "../workflow.ts"
import { isWorkflowDefinition } from "../workflow.ts"
import { maxInt32, validateInteger, validateName } from "../validation.ts"
import { uuidv7 } from "../ids.ts"
import type { Host } from "./Host.ts"
import { encodeValue } from "./payload.ts"
import { validateUserId } from "./ids.ts"

export interface EnqueueOptions {
  /** Defaults to a time-ordered UUID. An id that exists attaches to that workflow (its input is ignored). */
  readonly id?: string
  /** Lower runs first (the queue must be defined with `priority: true`). Default 0. */
  readonly priority?: number
  /** While a workflow of the queue with this id is queued or running, another enqueue of it is refused. */
  readonly deduplicationId?: string
  /** What to do on a duplicate deduplication id: fail with DuplicateEnqueue (default), or attach to the holder. */
  readonly onDuplicate?: "fail" | "attach"
  /** The partition (required on a partitioned queue, refused on others). */
  readonly partitionKey?: string
  /** Not started before this much time has passed (status DELAYED meanwhile). */
  readonly delay?: DurationInput
  /** Cancelled as timed out if not finished this long after it starts. */
  readonly timeout?: DurationInput
}

/** Per-item options of a batch: one object for all, or one per input. */
export type EnqueueManyOptions<I> = EnqueueOptions | ((input: I, index: number) => EnqueueOptions)

export interface EnqueueRequestOf {
  readonly queue: QueueRef
  readonly workflow: AnyWorkflow
  readonly inputs: ReadonlyArray<unknown>
  readonly options: (input: unknown, index: number) => EnqueueOptions
  /** `ctx.enqueue`: the parent and the ids it derived for its children. */
  readonly parent?: { readonly id: string; readonly step: number; readonly childId: string }
  /** Ids the engine derived (schedule ticks, debounced runs), one per input, used as given. */
  readonly derivedIds?: ReadonlyArray<string>
  /** Where the request comes from, for error messages. */
  readonly api: string
}

const refusals = {
  unknown_queue: (q: string) =>
    `queue ${JSON.stringify(q)} is not defined: launch a process with it in Durably.launch({ queues }), or enqueue with its definition`,
  partition_required: (q: string) => `queue ${JSON.stringify(q)} is partitioned: every enqueue needs a partitionKey`,
  partition_not_allowed: (q: string) =>
    `queue ${JSON.stringify(q)} is not partitioned: partitionKey is only for queues defined with \`partition\``,
  priority_disabled: (q: string) =>
    `queue ${JSON.stringify(q)} was not defined with priority: true, so enqueues cannot give a priority`,
} as const

/** Checks one enqueue's options (InvalidArgument naming `api` and the option); returns its delay and timeout. */
export const checkEnqueueOptions = (
  o: unknown,
  api: string,
): { readonly delayMs: number; readonly timeoutMs: number | undefined } => {
  if (typeof o !== "object" || o === null) throw new InvalidArgument({ reason: `${api}: options must be an object` })
  const opts = o as EnqueueOptions
  if (opts.id !== undefined) validateUserId(opts.id, `${api}: id`)
  if (opts.priority !== undefined) validateInteger(opts.priority, `${api}: priority`, -maxInt32, maxInt32)
  if (opts.deduplicationId !== undefined) validateName(opts.deduplicationId, `${api}: deduplicationId`)
  if (opts.partitionKey !== undefined) validateName(opts.partitionKey, `${api}: partitionKey`)
  if (opts.onDuplicate !== undefined && opts.onDuplicate !== "fail" && opts.onDuplicate !== "attach")
    throw new InvalidArgument({ reason: `${api}: onDuplicate must be "fail" or "attach"` })
  return {
    delayMs: opts.delay === undefined ? 0 : toMillis(opts.delay, `${api}: delay`),
    timeoutMs: opts.timeout === undefined ? undefined : toMillis(opts.timeout, `${api}: timeout`),
  }
}

const item = (host: Host, req: EnqueueRequestOf, input: unknown, index: number, now: number): NewQueued => {
  const o = req.options(input, index)
  const { delayMs, timeoutMs } = checkEnqueueOptions(o, req.api)
  const id =
    req.derivedIds?.[index] ?? (req.parent ? (o.id ?? req.parent.childId) : o.id === undefined ? uuidv7(now) : o.id)
  const def = req.workflow
  const payload = {
    serializer: host.serializer,
    maxPayloadBytes: host.maxPayloadBytes,
    workflowId: id,
    workflowName: def.name,
  }
  return {
    id,
    name: def.name,
    input: encodeValue(input, def.schemas.input, "input", payload),
    ...(o.partitionKey === undefined ? {} : { partitionKey: o.partitionKey }),
    ...(o.priority === undefined ? {} : { priority: o.priority }),
    ...(o.deduplicationId === undefined ? {} : { deduplicationId: o.deduplicationId }),
    ...(delayMs > 0 ? { delayUntil: now + delayMs } : {}),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(req.parent ? { parentStep: req.parent.step } : {}),
    ...(o.deduplicationId !== undefined && o.onDuplicate !== "attach" ? { failOnDuplicate: true } : {}),
  }
}

/** Put the inputs on the queue; returns the id of each (created, existing, or the holder of its dedup id). */
export const enqueueWorkflows = async (host: Host, appVersion: string, req: EnqueueRequestOf): Promise<string[]> => {
  const queue = queueName(req.queue, `${req.api}: the queue`)
  if (!isWorkflowDefinition(req.workflow))
    throw new InvalidArgument({ reason: `${req.api}: the workflow must be a definition made by defineWorkflow` })
  if (req.inputs.length === 0) return []
  const now = host.clock.currentTimeMillisUnsafe()
  const traceContext = host.carry?.()
  const made = req.inputs.map((input, i) => item(host, req, input, i, now))
  const items = traceContext === undefined ? made : made.map((i) => ({ ...i, traceContext }))
  const request = { queue, items, appVersion, ...(req.parent ? { parentId: req.parent.id } : {}) }
  let result = await host.storeCall(host.store.enqueue(request))
  if (result._tag === "Refused" && result.reason === "unknown_queue" && isQueueDefinition(req.queue)) {
    // The enqueuer has the definition but no worker launched with it yet: its settings are as good as any.
    await registerQueue(host.store, host, req.queue.config, appVersion)
    result = await host.storeCall(host.store.enqueue(request))
  }
  return answer(queue, items, req, result)
}

const answer = (queue: string, items: ReadonlyArray<NewQueued>, req: EnqueueRequestOf, result: EnqueueResult) => {
  if (result._tag === "Refused") throw new InvalidArgument({ reason: `${req.api}: ${refusals[result.reason](queue)}` })
  if (result._tag === "QueueFull") throw new QueueFull({ queue, waiting: result.waiting, maxLength: result.maxLength })
  // Rejected: nothing was stored; the refusing outcome is found below like any other and thrown.
  return result.outcomes.map((o, i) => {
    const it = items[i]!
    if (o._tag === "Created") return o.id
    if (o._tag === "Existing") {
      if (o.name !== it.name)
        throw new ConflictingWorkflowError({ workflowId: o.id, existingName: o.name, requestedName: it.name })
      return o.id
    }
    const attach = req.options(req.inputs[i], i).onDuplicate === "attach"
    if (attach && o.existingId !== undefined) return o.existingId
    throw new DuplicateEnqueue({
      queue,
      deduplicationId: it.deduplicationId ?? "",
      ...(o.existingId === undefined ? {} : { existingId: o.existingId }),
    })
  })
}

/** Store a queue's settings, saying so when they differ from the ones stored (the last launch wins). */
export const registerQueue = async (
  store: Store,
  host: Pick<Host, "storeCall" | "log">,
  config: Parameters<Store["registerQueue"]>[0],
  appVersion: string,
): Promise<void> => {
  const previous = await host.storeCall(store.registerQueue(config, appVersion))
  if (previous && JSON.stringify(canonical(previous)) !== JSON.stringify(canonical(config)))
    host.log({
      level: "warn",
      message: `queue ${JSON.stringify(config.name)}: this launch changed its stored settings from ${JSON.stringify(canonical(previous))} to ${JSON.stringify(canonical(config))}; every worker now applies the new ones (the last launch wins)`,
    })
}

const canonical = (c: Parameters<Store["registerQueue"]>[0]) => ({
  concurrency: c.concurrency ?? null,
  workerConcurrency: c.workerConcurrency ?? null,
  rateLimit: c.rateLimit ?? null,
  partition: c.partition
    ? { concurrency: c.partition.concurrency ?? null, rateLimit: c.partition.rateLimit ?? null }
    : null,
  priority: c.priority,
  maxLength: c.maxLength ?? null,
})
