/**
 * Queues as core knows them: a named set of limits (stored in the database so every worker applies the
 * same ones), and the extension point through which a dispatcher — `@durably/scheduler` — decides when this
 * process claims queued work. Enqueueing is core's (a store operation); dispatching is the scheduler's.
 */
import { toMillis, type DurationInput } from "./duration.ts"
import type { LogSink } from "./engine/log.ts"
import { InvalidArgument } from "./errors.ts"
import type { QueueConfig } from "./store/Store.ts"
import { maxInt32, validateInteger, validateName } from "./validation.ts"

export interface RateLimit {
  /** Most starts… */
  readonly limit: number
  /** …in any window this long. */
  readonly period: DurationInput
}

export interface QueueSettings {
  /** Most workflows of the queue running at once, across every worker. */
  readonly concurrency?: number
  /** Most running at once in one process. */
  readonly workerConcurrency?: number
  /** Most starts in any sliding window, across every worker. */
  readonly rateLimit?: RateLimit
  /** Every enqueue names a partition key; these limits hold per key (e.g. one at a time per user). */
  readonly partition?: { readonly concurrency?: number; readonly rateLimit?: RateLimit }
  /** Enqueues may give a `priority`: lower runs first. Default false. */
  readonly priority?: boolean
  /** Most workflows waiting; enqueueing beyond it fails with QueueFull. */
  readonly maxLength?: number
}

/** What a claim started: how many, when a limit or delay lets more start, whether startable work was left. */
export interface QueueClaimOutcome {
  readonly started: number
  readonly retryAt?: number
  readonly waiting?: boolean
}

/** What a dispatcher may ask of the engine that runs it. */
export interface DispatchHost {
  readonly executorId: string
  readonly log: LogSink
  /** Claim up to `max` workflows of the queue (the store enforces the queue's limits) and start them here. */
  readonly claim: (queue: string, max: number) => Promise<QueueClaimOutcome>
  /** How many more workflows this process may run now (its `maxRunningWorkflows` minus what runs). */
  readonly room: () => number
  /** Be told when the queue may have startable work: an enqueue, or a workflow of it finished anywhere. */
  readonly subscribe: (queue: string, listener: () => void) => () => void
  /** Be told when a workflow ended in this process (`queue`: its queue, if it was queued): room is free. */
  readonly onFreed: (listener: (queue: string | undefined) => void) => () => void
  /** Engine-clock time, and a sleep on that clock (virtual under the test kit); rejects when `signal` aborts. */
  readonly now: () => number
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>
}

export interface Dispatcher {
  /** Stop claiming; resolves when no claim is in flight. */
  readonly stop: () => Promise<void>
}

/** Starts the dispatch of `queues` in one engine. Called once per engine with every queue it serves. */
export type DispatcherFactory = (host: DispatchHost, queues: ReadonlyArray<QueueDefinition>) => Dispatcher

export interface QueueDefinition {
  readonly _tag: "QueueDefinition"
  readonly name: string
  readonly config: QueueConfig
  /** The runtime that dispatches it (given by `@durably/scheduler`'s defineQueue). */
  readonly dispatcher: DispatcherFactory
}

/** A queue by definition or by name. */
export type QueueRef = QueueDefinition | string

export const isQueueDefinition = (u: unknown): u is QueueDefinition =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "QueueDefinition"

export const queueName = (queue: unknown, what: string): string => {
  const name = isQueueDefinition(queue) ? queue.name : queue
  validateName(name, what)
  return name as string
}

/** Queue limits live in integer columns. */
const positive = (v: unknown, what: string): number => validateInteger(v, what, 1, maxInt32)

const rate = (r: RateLimit, what: string) => {
  if (typeof r !== "object" || r === null)
    throw new InvalidArgument({ reason: `${what} must be { limit, period }, e.g. { limit: 100, period: "1 minute" }` })
  const periodMs = toMillis(r.period, `${what}.period`)
  if (periodMs < 1) throw new InvalidArgument({ reason: `${what}.period must be at least 1 millisecond` })
  return { limit: positive(r.limit, `${what}.limit`), periodMs }
}

/** Validate a queue's settings and make them what the store keeps. */
export const queueConfig = (name: string, settings: QueueSettings = {}): QueueConfig => {
  validateName(name, "queue name")
  const where = `queue ${JSON.stringify(name)}`
  if (typeof settings !== "object" || settings === null)
    throw new InvalidArgument({ reason: `${where}: settings must be an object` })
  const known = new Set(["concurrency", "workerConcurrency", "rateLimit", "partition", "priority", "maxLength"])
  for (const key of Object.keys(settings))
    if (!known.has(key))
      throw new InvalidArgument({
        reason: `${where}: unknown setting ${JSON.stringify(key)} (known: ${[...known].join(", ")})`,
      })
  const s = settings
  const partition = s.partition
  if (partition !== undefined && (typeof partition !== "object" || partition === null))
    throw new InvalidArgument({ reason: `${where}: partition must be an object ({} for partitions without limits)` })
  return {
    name,
    ...(s.concurrency === undefined ? {} : { concurrency: positive(s.concurrency, `${where}: concurrency`) }),
    ...(s.workerConcurrency === undefined
      ? {}
      : { workerConcurrency: positive(s.workerConcurrency, `${where}: workerConcurrency`) }),
    ...(s.rateLimit === undefined ? {} : { rateLimit: rate(s.rateLimit, `${where}: rateLimit`) }),
    ...(partition === undefined
      ? {}
      : {
          partition: {
            ...(partition.concurrency === undefined
              ? {}
              : { concurrency: positive(partition.concurrency, `${where}: partition.concurrency`) }),
            ...(partition.rateLimit === undefined
              ? {}
              : { rateLimit: rate(partition.rateLimit, `${where}: partition.rateLimit`) }),
          },
        }),
    priority: s.priority === true,
    ...(s.maxLength === undefined ? {} : { maxLength: positive(s.maxLength, `${where}: maxLength`) }),
  }
}
