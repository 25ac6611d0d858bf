/** Launch options shared by both API flavours, and their defaults. */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Clock, Context, Effect, Scope } from "effect"
import { toMillis, type DurationInput } from "./duration.ts"
import type { EngineConfig } from "./engine/Engine.ts"
import { consoleLogger, type LogEntry, type LogSink } from "./engine/log.ts"
import { combineObservers } from "./observe/combine.ts"
import { lifecycleLog } from "./observe/lifecycleLog.ts"
import type { Observer } from "./observe/Observer.ts"
import { InvalidArgument } from "./errors.ts"
import { jsonSerializer } from "./serialization/json.ts"
import type { Serializer } from "./serialization/Serializer.ts"
import type { Store, WorkflowStatus } from "./store/Store.ts"
import type { RetentionConfig } from "./engine/retention.ts"
import { isWorkflowDefinition, type AnyWorkflow } from "./workflow.ts"
import { maxInt32, validateInteger, validateName } from "./validation.ts"
import { isQueueDefinition, queueName, type QueueDefinition, type QueueRef } from "./queues.ts"
import { isScheduleDefinition, type ScheduleDefinition } from "./schedules/define.ts"

export interface LaunchOptions<W extends AnyWorkflow = AnyWorkflow> {
  /** Where state lives: `memoryStore()`, or a Postgres / embedded store from `@durably/postgres`. */
  readonly store: Store
  /** Every workflow this process can run (and recover). */
  readonly workflows: ReadonlyArray<W>
  /**
   * Who this process is. Workflows it starts are owned by it, and a restart with the same id takes them back
   * at once. Default: `DURABLY_EXECUTOR_ID` from the environment, else "local". Give each process its own.
   */
  readonly executorId?: string
  /** The code version. Default: `DURABLY_APP_VERSION`, else the version in ./package.json, else "0". */
  readonly appVersion?: string
  /** Largest serialized input, output, step result or error. Default 2 MiB. */
  readonly maxPayloadBytes?: number
  /** Recoveries without progress before a workflow becomes DEAD. Default 50. */
  readonly maxRecoveryAttempts?: number
  /** How values are stored when no schema is given. Default: JSON with Date, BigInt, Map, Set, Uint8Array, Error. */
  readonly serializer?: Serializer
  /**
   * Where engine and `ctx.log` entries go. Default: info and up on stderr (in the Effect flavour, Effect's
   * Logger). `structuredLogger(pino())` for pino; `false` for none.
   */
  readonly logger?: LogSink | false
  /**
   * What the logs hold. Lifecycle entries (workflow started, failed, retried, recovered …) never show
   * payloads (inputs, outputs) unless `payloads` is true; `redact` sees every entry, the engine's and
   * `ctx.log`'s, before the logger does, and returns it rewritten, or undefined to drop it.
   */
  readonly logging?: {
    readonly payloads?: boolean
    readonly redact?: (entry: LogEntry) => LogEntry | undefined
  }
  /** Observers of the engine, e.g. `openTelemetry()` from `@durably/otel`: see docs/observability.md. */
  readonly observers?: ReadonlyArray<Observer>
  /** Take back this executor's PENDING workflows at launch. Default true. */
  readonly recover?: boolean
  /**
   * Heartbeats in the store, so that other executors take over this one's workflows if it dies, and it
   * takes over theirs. Default: every 2 seconds, with a 10-second lease. `false` for a single process.
   */
  readonly heartbeat?: { readonly interval?: DurationInput; readonly lease?: DurationInput } | false
  /**
   * How many workflows this executor runs at once before it stops taking more from queues and from other
   * executors (workflows it starts itself, and their children, always run). Default 1000.
   */
  readonly maxRunningWorkflows?: number
  /**
   * Queues this process knows (from `defineQueue` in `@durably/scheduler`): their settings are stored at
   * launch (the last launch wins), and the process serves them, claiming and running their work.
   */
  readonly queues?: ReadonlyArray<QueueDefinition>
  /**
   * A workflow whose only pending work is a sleep at least this long is dropped from memory and replayed
   * from its checkpoints when the sleep is due, so many long sleepers cost little memory. Default
   * "1 minute"; `false` keeps every sleeping workflow in memory.
   */
  readonly parkSleepsLongerThan?: DurationInput | false
  /**
   * A workflow whose only pending work is waiting for something another party does (`ctx.recv`,
   * `ctx.getEvent`, a child's result) is dropped from memory once it has waited this long, and replayed from
   * its checkpoints when the message, event or end arrives (from any process), or its timeout passes. Not at
   * once: a workflow receiving messages in quick succession would replay its history for each. Default
   * "10 seconds"; `false` keeps every waiting workflow in memory.
   */
  readonly parkWaitsAfter?: DurationInput | false
  /**
   * Delete finished workflows (and everything they stored) once they are older than `olderThan`, checking
   * every `interval` (default 1 hour) in batches of `batchSize` (default 1000). Statuses default to SUCCESS,
   * ERROR and CANCELLED. Every executor may have it: one prunes at a time. Default: off.
   */
  readonly retention?:
    | {
        readonly olderThan: DurationInput
        readonly status?: ReadonlyArray<WorkflowStatus>
        readonly interval?: DurationInput
        readonly batchSize?: number
      }
    | false
  /**
   * Schedules defined in code (`defineSchedule` from `@durably/scheduler`): stored at launch, so that every
   * process whose `workflows` include a schedule's workflow fires its ticks (each tick runs once in all).
   */
  readonly schedules?: ReadonlyArray<ScheduleDefinition>
  /** Which of `queues` this process claims work from: all (default, `true`), none (`false`), or these. */
  readonly serveQueues?: boolean | ReadonlyArray<QueueRef>
}

export const defaultAppVersion = (): string => {
  const fromEnv = process.env["DURABLY_APP_VERSION"]
  if (fromEnv) return fromEnv
  try {
    const pkg = JSON.parse(readFileSync(join(process.cwd(), "package.json"), "utf8")) as { version?: unknown }
    if (typeof pkg.version === "string" && pkg.version) return pkg.version
  } catch {
    // no package.json here: fall back
  }
  return "0"
}

/** Validates options and resolves defaults; takes the clock and services from the Effect context it runs in. */
export const resolveConfig = (
  options: LaunchOptions,
  /** The logger when none is given: stderr, or (Effect flavour) Effect's Logger with these services. */
  defaultLogger: (services: Context.Context<never>) => LogSink = () => consoleLogger(),
): Effect.Effect<EngineConfig, InvalidArgument> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    // A layer's Scope must not leak into workflows: their finalizers would wait for the engine's end.
    const services = Context.add(Context.omit(Scope.Scope)(yield* Effect.context<never>()), Clock.Clock, clock)
    return yield* Effect.try({
      try: () => validate(options, services, defaultLogger(services)),
      catch: (e) => e as InvalidArgument,
    })
  })

const validate = (options: LaunchOptions, services: Context.Context<never>, defaultLogger: LogSink): EngineConfig => {
  if (typeof options !== "object" || options === null)
    throw new InvalidArgument({ reason: "Durably.launch needs an options object" })
  const store = options.store
  if (!store || typeof store.createWorkflow !== "function")
    throw new InvalidArgument({
      reason: "Durably.launch: `store` is required (for example memoryStore() or postgresStore({ url }))",
    })
  if (!Array.isArray(options.workflows) || !options.workflows.every(isWorkflowDefinition))
    throw new InvalidArgument({
      reason: "Durably.launch: `workflows` must be an array of definitions made by defineWorkflow",
    })
  // A Postgres text value holds at most 1 GB.
  const maxPayloadBytes = validateInteger(
    options.maxPayloadBytes ?? 2 * 1024 * 1024,
    "maxPayloadBytes",
    64,
    2 ** 30 - 1,
  )
  // Counted in an integer column.
  const maxRecoveryAttempts = validateInteger(options.maxRecoveryAttempts ?? 50, "maxRecoveryAttempts", 1, maxInt32)
  const heartbeat =
    options.heartbeat === false
      ? false
      : {
          intervalMs: toMillis(options.heartbeat?.interval ?? "2 seconds", "heartbeat.interval"),
          leaseMs: toMillis(options.heartbeat?.lease ?? "10 seconds", "heartbeat.lease"),
        }
  if (heartbeat && !(heartbeat.leaseMs > heartbeat.intervalMs))
    throw new InvalidArgument({ reason: "heartbeat.lease must be longer than heartbeat.interval (a few intervals)" })
  if (heartbeat && heartbeat.intervalMs < 10)
    throw new InvalidArgument({ reason: "heartbeat.interval must be at least 10 milliseconds" })
  // The lease is kept in an integer column of milliseconds (about 24 days).
  if (heartbeat && heartbeat.leaseMs > maxInt32)
    throw new InvalidArgument({ reason: `heartbeat.lease must be at most ${maxInt32} milliseconds (about 24 days)` })
  const maxRunningWorkflows = validateInteger(options.maxRunningWorkflows ?? 1000, "maxRunningWorkflows", 1, maxInt32)
  const queues = options.queues ?? []
  if (!Array.isArray(queues) || !queues.every(isQueueDefinition))
    throw new InvalidArgument({
      reason: "Durably.launch: `queues` must be an array of definitions made by defineQueue (from @durably/scheduler)",
    })
  const names = new Set<string>()
  for (const q of queues) {
    if (names.has(q.name))
      throw new InvalidArgument({ reason: `Durably.launch: two queues are named ${JSON.stringify(q.name)}` })
    names.add(q.name)
  }
  const serve = options.serveQueues ?? true
  const served =
    serve === true
      ? names
      : serve === false
        ? new Set<string>()
        : Array.isArray(serve)
          ? new Set(serve.map((q: unknown) => queueName(q, "Durably.launch: serveQueues")))
          : undefined
  if (!served)
    throw new InvalidArgument({ reason: "Durably.launch: serveQueues must be true, false or a list of queues" })
  for (const name of served)
    if (!names.has(name))
      throw new InvalidArgument({
        reason: `Durably.launch: serveQueues names ${JSON.stringify(name)}, which is not in \`queues\``,
      })
  const schedules = options.schedules ?? []
  if (!Array.isArray(schedules) || !schedules.every(isScheduleDefinition))
    throw new InvalidArgument({
      reason:
        "Durably.launch: `schedules` must be an array of definitions made by defineSchedule (from @durably/scheduler)",
    })
  const scheduleNames = new Set<string>()
  for (const s of schedules) {
    if (scheduleNames.has(s.name))
      throw new InvalidArgument({ reason: `Durably.launch: two schedules are named ${JSON.stringify(s.name)}` })
    scheduleNames.add(s.name)
  }
  const observers = options.observers ?? []
  if (!Array.isArray(observers) || !observers.every((o: unknown) => typeof o === "object" && o !== null))
    throw new InvalidArgument({ reason: "Durably.launch: `observers` must be an array of observer objects" })
  const redact = options.logging?.redact
  if (redact !== undefined && typeof redact !== "function")
    throw new InvalidArgument({ reason: "Durably.launch: `logging.redact` must be a function" })
  const log = logSink(options.logger === undefined ? defaultLogger : options.logger, redact)
  // Only a missing option takes the default: a null is a mistake to report, not a request for it.
  const executorId =
    options.executorId === undefined ? (process.env["DURABLY_EXECUTOR_ID"] ?? "local") : options.executorId
  validateName(executorId, "Durably.launch: executorId")
  const appVersion = options.appVersion === undefined ? defaultAppVersion() : options.appVersion
  validateName(appVersion, "Durably.launch: appVersion")
  return {
    store,
    workflows: options.workflows,
    executorId,
    appVersion,
    maxPayloadBytes,
    maxRecoveryAttempts,
    serializer: options.serializer ?? jsonSerializer,
    heartbeat,
    maxRunningWorkflows,
    queues,
    servedQueues: served,
    schedules,
    parkSleepsMs:
      options.parkSleepsLongerThan === false
        ? undefined
        : toMillis(options.parkSleepsLongerThan ?? "1 minute", "parkSleepsLongerThan"),
    parkWaitsMs:
      options.parkWaitsAfter === false ? undefined : toMillis(options.parkWaitsAfter ?? "10 seconds", "parkWaitsAfter"),
    log,
    observer: combineObservers([
      ...(options.logger === false ? [] : [lifecycleLog(log, { payloads: options.logging?.payloads === true })]),
      ...observers,
    ]),
    services,
    runsWorkflows: true,
    ...(options.retention ? { retention: retentionConfig(options.retention) } : {}),
  }
}

const logSink = (logger: LogSink | false, redact: ((entry: LogEntry) => LogEntry | undefined) | undefined): LogSink => {
  if (logger === false) return () => undefined
  const sink = logger
  if (!redact) return sink
  return (entry) => {
    let redacted: LogEntry | undefined
    try {
      redacted = redact(entry)
    } catch (e) {
      // A broken redaction hook must not leak what it was meant to hide: say so, without the entry.
      sink({ level: "error", message: `logging.redact threw; an entry was dropped: ${String(e)}` })
      return
    }
    if (redacted) sink(redacted)
  }
}

const finished: ReadonlyArray<WorkflowStatus> = ["SUCCESS", "ERROR", "CANCELLED", "DEAD"]

const retentionConfig = (r: NonNullable<LaunchOptions["retention"]>): RetentionConfig => {
  if (typeof r !== "object" || r.olderThan === undefined)
    throw new InvalidArgument({
      reason: 'Durably.launch: retention needs olderThan (for example { olderThan: "30 days" })',
    })
  const status = r.status ?? ["SUCCESS", "ERROR", "CANCELLED"]
  if (!Array.isArray(status) || status.length === 0 || !status.every((s) => finished.includes(s)))
    throw new InvalidArgument({
      reason: `Durably.launch: retention.status must list finished statuses (${finished.join(", ")})`,
    })
  const batchSize = r.batchSize ?? 1000
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000)
    throw new InvalidArgument({ reason: "Durably.launch: retention.batchSize must be a whole number from 1 to 100000" })
  const intervalMs = toMillis(r.interval ?? "1 hour", "retention.interval")
  if (intervalMs <= 0) throw new InvalidArgument({ reason: "Durably.launch: retention.interval must be positive" })
  return { olderThanMs: toMillis(r.olderThan, "retention.olderThan"), status, intervalMs, batchSize }
}
