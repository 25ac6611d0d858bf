/**
 * The engine: starts workflows, runs their executions on this executor, recovers the ones it owns, and
 * answers handles. An engine is a value: several can run in one process, on one store or on several.
 */
import { Clock, Context, Effect } from "effect"
import { longTimeout, toMillis, type DurationInput } from "../duration.ts"
import { ConflictingWorkflowError, EngineStopped, InvalidArgument, WorkflowNotFound } from "../errors.ts"
import type { Serializer } from "../serialization/Serializer.ts"
import type { Checkpoint, Store, WorkflowRecord } from "../store/Store.ts"
import { validateName, type AnyWorkflow, type InputOf, type OutputOf } from "../workflow.ts"
import { uuidv7 } from "../ids.ts"
import { Execution } from "./Execution.ts"
import { runToEnd, type ExecutionEnd } from "./runToEnd.ts"
import { makeStoreCall, releaseStore, retainStore } from "./storeAccess.ts"
import { makeHandle, type HandleHost, type WorkflowHandle } from "./handle.ts"
import type { Host } from "./Host.ts"
import { Lease } from "./Lease.ts"
import type { LogSink } from "./log.ts"
import { getEventFromOutside, type GetEventOptions } from "./events.ts"
import { sendMessage, type SendOptions } from "./messages.ts"
import { decodeError, decodeValue, encodeValue, type PayloadContext } from "./payload.ts"
import { readStream, type ReadStreamOptions } from "./streams.ts"
import { hasEnded, waitFor } from "./waiting.ts"
import type { ParentLink } from "../store/Store.ts"
import type { QueueClaimOutcome, QueueDefinition, QueueRef } from "../queues.ts"
import { enqueueWorkflows, registerQueue, type EnqueueManyOptions, type EnqueueOptions } from "./enqueue.ts"
import { validateUserId } from "./ids.ts"
import { claimQueued, startDispatch, type QueueDispatch } from "./dispatch.ts"
import { supersedes, Takeovers, type Runner } from "./takeovers.ts"
import { Parking } from "./parking.ts"
import { ParkWatch } from "./parkWatch.ts"
import { ClaimGuard } from "./claimGuard.ts"
import { initialConfirmation, stepGate, stepMayStart } from "./ownership.ts"
import { Orphans } from "./orphans.ts"
import type { ScheduleDefinition } from "../schedules/define.ts"
import { engineSchedules, type EngineSchedules } from "../schedules/engine.ts"
import { debounceWorkflow, startDebounceDispatch, type DebounceOptions } from "./debounce.ts"
import { debounceQueue } from "../store/debounceTypes.ts"
import { makeManagementApi } from "../management/api.ts"
import { startRetention, type RetentionConfig } from "./retention.ts"
import type { ManagementApi } from "../management/types.ts"
import type { ExecutionEndInfo, ExecutionInfo, ExecutionOrigin, Observer } from "../observe/Observer.ts"

export interface EngineConfig {
  readonly store: Store
  readonly workflows: ReadonlyArray<AnyWorkflow>
  readonly executorId: string
  readonly appVersion: string
  readonly maxPayloadBytes: number
  readonly maxRecoveryAttempts: number
  readonly serializer: Serializer
  readonly log: LogSink
  /** Lifecycle logs and any observers given at launch, as one; undefined when there are none. */
  readonly observer?: Observer | undefined
  /** Heartbeats and failover; false for a single process that needs neither. */
  readonly heartbeat: { readonly intervalMs: number; readonly leaseMs: number } | false
  /** Most workflows this executor takes over from others (workflows it starts itself always run). */
  readonly maxRunningWorkflows: number
  /** Services for Effect-flavour workflows, and the clock. */
  readonly services: Context.Context<never>
  /** Queues whose settings this engine stores at launch, and the names of those it claims work from. */
  readonly queues: ReadonlyArray<QueueDefinition>
  readonly servedQueues: ReadonlySet<string>
  /** Schedules defined in code: stored at launch. */
  readonly schedules: ReadonlyArray<ScheduleDefinition>
  /** Sleeps at least this long park their workflow (see parking.ts); undefined: never. */
  readonly parkSleepsMs?: number | undefined
  /** Waits (recv, getEvent, a child's result) park their workflow after this long; undefined: never. */
  readonly parkWaitsMs?: number | undefined
  /** Periodic pruning of old finished workflows (the `retention` launch option). */
  readonly retention?: RetentionConfig | undefined
  /** False for a client: it runs no workflows (no recovery, no heartbeat, no queue dispatch). */
  readonly runsWorkflows: boolean
}

export interface StartOptions {
  /** Defaults to a time-ordered UUID. Starting an id that exists attaches to that execution. */
  readonly id?: string
  /** The workflow is cancelled (as timed out) if it has not finished this long after it started. */
  readonly timeout?: DurationInput
}

export class Engine {
  readonly store: Store
  readonly executorId: string
  readonly appVersion: string
  private readonly definitions = new Map<string, AnyWorkflow>()
  private readonly executions = new Map<
    string,
    { readonly exec: Execution; readonly done: Promise<WorkflowRecord | undefined> }
  >()
  private state: "running" | "stopping" | "stopped" = "running"
  readonly host: Host
  readonly handles: HandleHost
  /** `workflows.*`, `queues.*`, `executors.*`: the management API (management/api.ts). */
  readonly management: ManagementApi
  readonly config: EngineConfig
  private readonly lease: Lease | undefined
  /** Aborted when the engine has stopped: waits outside workflows (results, events, streams) end. */
  private readonly halt = new AbortController()
  private dispatch: QueueDispatch | undefined
  private debouncing: { readonly stop: () => Promise<void> } | undefined
  /** What the takeover and dispatch modules may see and do of this engine. */
  private readonly runner: Runner
  private readonly takeovers: Takeovers
  private readonly parked: Parking
  private readonly parkWatch: ParkWatch
  /** Workflows being created or claimed here, not running yet: recover() leaves them alone. */
  private readonly claiming = new ClaimGuard()
  private readonly orphans: Orphans
  private stopRetention: (() => void) | undefined
  /** What observers watching the launched engine (Observer.launched) stop with. */
  private unobserve: (() => void) | undefined
  readonly schedules: EngineSchedules

  constructor(config: EngineConfig) {
    this.config = config
    this.store = config.store
    retainStore(config.store)
    this.executorId = config.executorId
    this.appVersion = config.appVersion
    for (const wf of config.workflows) {
      const existing = this.definitions.get(wf.name)
      if (existing && existing !== wf)
        throw new InvalidArgument({
          reason: `two different workflows are named ${JSON.stringify(wf.name)}; names must be unique`,
        })
      this.definitions.set(wf.name, wf)
    }
    const runEffect = <A, E>(effect: Effect.Effect<A, E, any>, signal?: AbortSignal) =>
      Effect.runPromiseWith(config.services)(effect as Effect.Effect<A, E, never>, signal ? { signal } : undefined)
    this.host = {
      store: config.store,
      serializer: config.serializer,
      clock: Context.get(config.services, Clock.Clock),
      executorId: config.executorId,
      maxPayloadBytes: config.maxPayloadBytes,
      log: config.log,
      carry: config.observer?.carry?.bind(config.observer),
      services: config.services,
      runEffect,
      stopSignal: this.halt.signal,
      stepGate: (exec) => stepGate(this.host, this.lease, exec),
      stepMayStart: (exec) => stepMayStart(this.lease, exec),
      storeCall: makeStoreCall(
        runEffect,
        config.observer?.storeCall?.bind(config.observer),
        () => this.state === "stopped",
        (e) => config.observer?.event?.({ ...e, executorId: config.executorId, appVersion: this.appVersion }),
        () => this.host.clock.currentTimeMillisUnsafe(),
      ),
      parkUntil: (exec, until) => this.parked.parkUntil(exec, until),
      parkWaiting: (exec, wakes, deadline) =>
        this.parkWatch.watch(() => {
          if (exec.parkable() && this.parked.parkWaiting(exec, wakes, deadline)) exec.stop("parked")
        }),
      children: {
        appVersion: this.appVersion,
        start: async (workflow, input, options) => (await this.startWorkflow(workflow, input, options)).id,
        enqueue: (request) => enqueueWorkflows(this.host, this.appVersion, request),
        get handles() {
          return handles()
        },
      },
    }
    const handles = () => this.handles
    const isRunning = () => this.state === "running"
    const room = () => this.room
    this.runner = {
      host: this.host,
      config,
      definitions: this.definitions,
      executions: this.executions,
      get running() {
        return isRunning()
      },
      get room() {
        return room()
      },
      execute: (def, record, checkpoints, origin) => this.execute(def, record, checkpoints, origin),
      claiming: this.claiming,
      adoptOrphans: () => this.orphans.adopt(),
    }
    this.schedules = engineSchedules(this, config.schedules)
    this.takeovers = new Takeovers(this.runner)
    this.parked = new Parking(this.runner)
    this.parkWatch = new ParkWatch(this.host, config.parkWaitsMs)
    this.orphans = new Orphans(this.runner, (id) => this.parked.has(id))
    this.lease =
      config.heartbeat === false
        ? undefined
        : new Lease({
            store: config.store,
            executorId: config.executorId,
            appVersion: config.appVersion,
            intervalMs: config.heartbeat.intervalMs,
            leaseMs: config.heartbeat.leaseMs,
            log: config.log,
            now: () => this.host.clock.currentTimeMillisUnsafe(),
            runEffect: (e, signal) => this.host.runEffect(e, signal),
            onHealthy: async (judgeLeases) => this.takeovers.inBackground(judgeLeases),
            onLapse: (generation) => this.takeovers.dropLost(generation),
          })
    this.management = makeManagementApi({
      management: config.store.management,
      serializer: config.serializer,
      maxPayloadBytes: config.maxPayloadBytes,
      call: (effect) => this.host.storeCall(effect),
      definition: (name) => this.definitions.get(name),
      now: () => this.host.clock.currentTimeMillisUnsafe(),
      ownVersion: config.runsWorkflows ? config.appVersion : undefined,
      // A client runs nothing: its forks keep the source's version, which some worker runs.
      forkVersion: (source) => (config.runsWorkflows ? this.appVersion : source.appVersion),
      cancelled: (records) => {
        for (const r of records) if (r.status === "CANCELLED") this.executions.get(r.id)?.exec.stop("cancelled")
      },
      runnable: (record) => this.runResumed(record),
    })
    const workflows = this.management.workflows
    this.handles = {
      workflows,
      awaitEnd: (id) => this.awaitEnd(id),
      decodeOutput: (r) =>
        r.output === undefined
          ? undefined
          : decodeValue(r.output, this.definitions.get(r.name)?.schemas.output, "output", this.payloadOf(r)),
      decodeError: (r) =>
        r.error === undefined
          ? undefined
          : decodeError(r.error, this.definitions.get(r.name)?.schemas.error, this.payloadOf(r)),
    }
  }

  /** Shut down or crashed: nothing more happens here. */
  get isStopped(): boolean {
    return this.state === "stopped"
  }

  get running(): ReadonlyArray<string> {
    return [...this.executions.keys()]
  }

  definition(name: string): AnyWorkflow | undefined {
    return this.definitions.get(name)
  }

  private payloadOf(r: { readonly id: string; readonly name: string }): PayloadContext {
    return {
      serializer: this.config.serializer,
      maxPayloadBytes: this.config.maxPayloadBytes,
      workflowId: r.id,
      workflowName: r.name,
    }
  }

  private assertRunning(what: string) {
    if (this.state !== "running") throw new EngineStopped({ reason: `cannot ${what}: the engine is shutting down` })
  }

  async start<W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    options: StartOptions = {},
  ): Promise<WorkflowHandle<OutputOf<W>>> {
    if (options.id !== undefined) validateUserId(options.id, "workflow id")
    return this.startWorkflow(workflow, input, options)
  }

  /** Start (or attach to) a workflow with an id the engine derived (a schedule's tick). */
  startDerived<W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    id: string,
  ): Promise<WorkflowHandle<OutputOf<W>>> {
    return this.startWorkflow(workflow, input, { id })
  }

  /** Start (or attach to) a workflow here; `parent` makes it a child. */
  private async startWorkflow<W extends AnyWorkflow>(
    workflow: W,
    input: InputOf<W>,
    options: StartOptions & { readonly parent?: ParentLink },
  ): Promise<WorkflowHandle<OutputOf<W>>> {
    this.assertRunning("start a workflow")
    const def = this.definitions.get(workflow?.name)
    if (!def)
      throw new InvalidArgument({
        reason: `workflow ${JSON.stringify(workflow?.name)} is not one this engine was launched with; pass it in Durably.launch({ workflows })`,
      })
    const id = options.id ?? uuidv7(this.host.clock.currentTimeMillisUnsafe())
    const timeoutMs = options.timeout === undefined ? undefined : toMillis(options.timeout, "start timeout")
    const encoded = encodeValue(input, def.schemas.input, "input", this.payloadOf({ id, name: def.name }))
    const now = this.host.clock.currentTimeMillisUnsafe()
    const traceContext = this.host.carry?.()
    await this.claiming.hold([id], () =>
      this.createAndRun(def, id, encoded, now, timeoutMs, options.parent, traceContext),
    )
    return makeHandle(this.handles, id)
  }

  private async createAndRun(
    def: AnyWorkflow,
    id: string,
    encoded: string,
    now: number,
    timeoutMs: number | undefined,
    parent: ParentLink | undefined,
    traceContext: string | undefined,
  ) {
    const created = await this.host.storeCall(
      this.store.createWorkflow({
        id,
        name: def.name,
        input: encoded,
        appVersion: this.appVersion,
        executorId: this.executorId,
        ...(timeoutMs === undefined ? {} : { deadline: now + timeoutMs }),
        ...(parent ? { parent } : {}),
        ...(traceContext === undefined ? {} : { traceContext }),
      }),
    )
    if (created.record.name !== def.name)
      throw new ConflictingWorkflowError({ workflowId: id, existingName: created.record.name, requestedName: def.name })
    // A child created under a parent that was already cancelled is created CANCELLED: nothing to run.
    if (created._tag === "Created") {
      if (created.record.status === "PENDING") this.execute(def, created.record, [], "start")
    } else if (
      created.record.status === "PENDING" &&
      created.record.executorId === this.executorId &&
      !this.executions.has(id)
    )
      // Ours but not running here: a create whose reply was lost and was retried, or a start that raced a
      // restart. Claim it (fencing any older execution) and run it.
      await this.claimAndRun(def, id)
  }

  handle<O = unknown>(id: string): WorkflowHandle<O> {
    validateName(id, "workflow id")
    return makeHandle<O>(this.handles, id)
  }

  async cancel(id: string): Promise<void> {
    validateName(id, "cancel: the workflow id")
    return this.management.workflows.cancel(id)
  }

  /** A workflow resumed or forked may run now: run it here when this engine has its code and version. */
  private async runResumed(record: WorkflowRecord): Promise<void> {
    const def = this.definitions.get(record.name)
    if (
      record.status !== "PENDING" ||
      record.executorId !== undefined ||
      record.appVersion !== this.appVersion ||
      !def ||
      this.state !== "running" ||
      this.executions.has(record.id)
    )
      return // another executor of its version takes it over (a queued one is claimed from its queue)
    await this.claimAndRun(def, record.id)
  }

  /** Heartbeat once (failing fast if the store is unreachable), then take back this executor's workflows. */
  async launch(recover: boolean): Promise<void> {
    // The first store call is not retried: a wrong URL or a stopped server must fail the launch, clearly. It
    // also opens the store (migrations, an embedded database's start), so the first heartbeat is timed fairly.
    await this.host.runEffect(this.store.listWorkflows({ limit: 1 }))
    if (this.lease) await this.lease.begin()
    for (const q of this.config.queues) await registerQueue(this.store, this.host, q.config, this.appVersion)
    if (recover) await this.recover()
    if (this.config.runsWorkflows) await this.reportStranded()
    if (this.config.runsWorkflows && this.config.retention)
      this.stopRetention = startRetention(this.host, this.config.retention)
    this.dispatch = startDispatch(
      this,
      this.config.queues.filter((q) => this.config.servedQueues.has(q.name)),
    )
    // A client fires no ticks and starts no debounced runs: it has no workflow code to run them with.
    if (this.config.runsWorkflows) {
      await registerQueue(this.store, this.host, { name: debounceQueue, priority: false }, this.appVersion)
      this.debouncing = startDebounceDispatch(this)
      await this.schedules.launch()
    }
    this.unobserve = this.config.observer?.launched?.({
      executorId: this.executorId,
      appVersion: this.appVersion,
      queues: this.management.queues,
    })
  }

  /** `durably.debounce`: join or start the key's waiting run; its handle. */
  async debounce<W extends AnyWorkflow>(
    workflow: W,
    key: string,
    input: InputOf<W>,
    options: DebounceOptions,
  ): Promise<WorkflowHandle<OutputOf<W>>> {
    this.assertRunning("debounce")
    return makeHandle(this.handles, await debounceWorkflow(this.host, this.appVersion, workflow, key, input, options))
  }

  /**
   * Say, loudly, what no live executor can run: PENDING workflows of app versions no live executor has (a
   * deploy that changed the version leaves the old version's waiting workflows behind).
   */
  private async reportStranded(): Promise<void> {
    try {
      for (const { appVersion, count } of await this.management.workflows.stranded())
        this.config.log({
          level: "warn",
          message: `${count} PENDING workflow(s) of app version ${JSON.stringify(appVersion)} have no live executor of that version (this one runs ${JSON.stringify(this.appVersion)}): they wait until one starts, or until you move them with workflows.resumeMany({ status: "PENDING", appVersion: ${JSON.stringify(appVersion)} }, { appVersion: ${JSON.stringify(this.appVersion)} }) (see docs/operating.md)`,
        })
    } catch (e) {
      this.config.log({ level: "warn", message: `could not look for stranded workflows: ${String(e)}` })
    }
  }

  /** `durably.enqueue`: put a workflow on a queue; resolves with its handle once it is stored. */
  async enqueue<W extends AnyWorkflow>(
    queue: QueueRef,
    workflow: W,
    input: InputOf<W>,
    options: EnqueueOptions = {},
  ): Promise<WorkflowHandle<OutputOf<W>>> {
    const [handle] = await this.enqueueMany(queue, workflow, [input], options, "durably.enqueue")
    return handle!
  }

  /** `durably.enqueueMany`: many inputs in one store call (all or nothing); handles in input order. */
  async enqueueMany<W extends AnyWorkflow>(
    queue: QueueRef,
    workflow: W,
    inputs: ReadonlyArray<InputOf<W>>,
    options: EnqueueManyOptions<InputOf<W>> = {},
    api = "durably.enqueueMany",
  ): Promise<Array<WorkflowHandle<OutputOf<W>>>> {
    this.assertRunning("enqueue")
    if (!Array.isArray(inputs)) throw new InvalidArgument({ reason: `${api}: inputs must be an array` })
    const ids = await enqueueWorkflows(this.host, this.appVersion, {
      queue,
      workflow,
      inputs,
      options: typeof options === "function" ? (i, n) => options(i as InputOf<W>, n) : () => options,
      api,
    })
    return ids.map((id) => makeHandle<OutputOf<W>>(this.handles, id))
  }

  /** Claim up to `max` workflows of a queue (the store enforces its limits) and run them here. */
  claimQueued(queue: string, max: number): Promise<QueueClaimOutcome> {
    return claimQueued(this.runner, queue, max)
  }

  /** How many more workflows this executor may take from queues and from others now. */
  get room(): number {
    return this.state === "running" ? this.config.maxRunningWorkflows - this.executions.size : 0
  }

  /**
   * Take back PENDING workflows this executor owns (after a restart) and ones nobody owns (released by a
   * shutdown). Returns how many executions it started.
   */
  recover(): Promise<number> {
    this.assertRunning("recover")
    return this.takeovers.recover()
  }

  private async claimAndRun(def: AnyWorkflow, id: string) {
    const claim = await this.host.storeCall(
      this.store.claimWorkflow(id, this.executorId, {
        countRecovery: false,
        maxRecoveryAttempts: this.config.maxRecoveryAttempts,
      }),
    )
    if (claim._tag !== "Claimed" || !supersedes(this.runner, claim.record) || this.state !== "running") return
    this.execute(def, claim.record, await this.host.storeCall(this.store.loadCheckpoints(id)), "start")
  }

  /**
   * Run one execution in the background; `done` gives its final record when it completes here. A claim is
   * never ignored: an execution of an older epoch that runs here (a recovery raced its start) is fenced
   * already, so it is stopped and the claim's execution takes its place once it has ended; one of the same
   * or a newer epoch already is the owner's, and stays.
   */
  private execute(
    def: AnyWorkflow,
    record: WorkflowRecord,
    checkpoints: ReadonlyArray<Checkpoint>,
    origin: ExecutionOrigin,
  ) {
    const current = this.executions.get(record.id)
    if (current && current.exec.epoch >= record.epoch) return
    current?.exec.stop("fenced")
    const exec = this.createExecution(def, record, checkpoints)
    exec.confirmedGeneration = initialConfirmation(this.lease)
    const observed = this.config.observer?.execution?.(executionInfo(this, record, checkpoints.length, origin))
    if (observed) exec.observed = observed
    const run = current
      ? current.done.then(
          () => this.runExecution(exec),
          () => this.runExecution(exec),
        )
      : this.runExecution(exec)
    const done = run.then(
      (end) => {
        observed?.end(endInfo(exec, end))
        return end?.record
      },
      (e: unknown) => {
        this.config.log({
          level: "error",
          message: `execution failed unexpectedly: ${String(e)}`,
          workflowId: record.id,
          workflowName: record.name,
        })
        observed?.end({ status: "FAILED", error: e })
        return undefined
      },
    )
    this.executions.set(record.id, { exec, done })
    void done.finally(() => {
      if (this.executions.get(record.id)?.exec === exec) this.executions.delete(record.id)
      // Fenced: usually another executor took the workflow over, but a claim of this executor's own (a retried
      // start, a lost claim's retry, recover()) fences an execution here too, and then nothing here runs it.
      if (exec.stopped === "fenced" && this.state === "running") this.orphans.adopt()
      // A place is free here: queued work may start (the store's wake-up covers completions elsewhere).
      this.dispatch?.freed(record.queue)
    })
  }

  /** An execution of `record` against `checkpoints`; on another store than the engine's when `store` is given. */
  createExecution(
    def: AnyWorkflow,
    record: WorkflowRecord,
    checkpoints: ReadonlyArray<Checkpoint>,
    store: Store = this.store,
  ): Execution {
    const host = store === this.store ? this.host : { ...this.host, store }
    return new Execution(host, def, record, new Map(checkpoints.map((c) => [c.stepId, c])))
  }

  /** Run the workflow function to its end and record the outcome (unless the execution stopped). */
  runExecution(exec: Execution): Promise<ExecutionEnd | undefined> {
    return runToEnd(exec.host, exec)
  }

  /** Resolve when the workflow is finished (or DEAD); waits on store notifications, polling slowly as a fallback. */
  async awaitEnd(id: string): Promise<WorkflowRecord> {
    // Running here: its own completion is the answer, with no store round trip.
    const local = this.executions.get(id)
    if (local) {
      const record = await local.done
      if (record) return record
    }
    const ended = await waitFor({
      host: this.host,
      wakes: [{ kind: "status", workflowId: id }],
      check: async () => {
        const record = await this.host.storeCall(this.store.getWorkflow(id))
        if (!record) throw new WorkflowNotFound({ workflowId: id })
        return hasEnded(record.status) ? record : undefined
      },
      signal: this.host.stopSignal,
    })
    // No deadline: only an answer ends the wait.
    return ended!
  }

  /** `durably.send`: deliver a message to a workflow; rejects with WorkflowNotFound when there is none. */
  send(workflowId: string, topic: unknown, message: unknown, options?: SendOptions): Promise<void> {
    return sendMessage(this.host, workflowId, topic, message, options)
  }

  /** `durably.getEvent`: wait for a workflow's event. */
  getEvent(workflowId: string, key: string, options?: GetEventOptions): Promise<unknown> {
    return getEventFromOutside(this.host, workflowId, key, options)
  }

  /** `durably.readStream`: a workflow's stream values in order. */
  readStream<A>(workflowId: string, key: string, options?: ReadStreamOptions): AsyncIterable<A> {
    return readStream<A>(this.host, workflowId, key, options)
  }

  /**
   * Stop taking work, let running step bodies finish and checkpoint (up to `timeout`), release the
   * workflows this executor still owns so others can take them, and close the store.
   */
  async shutdown(options: { readonly timeout?: DurationInput } = {}): Promise<void> {
    // Checked before anything stops: a bad timeout leaves the engine running, not half stopped.
    const timeoutMs = toMillis(options?.timeout ?? "10 seconds", "shutdown timeout")
    if (this.state !== "running") return
    this.state = "stopping"
    await this.schedules.stop()
    await this.debouncing?.stop()
    await this.dispatch?.stop()
    const running = [...this.executions.values()]
    for (const { exec } of running) exec.stop("shutdown", true)
    let cancelTimer: (() => void) | undefined
    await Promise.race([
      Promise.all(running.map((r) => r.done)),
      new Promise<void>((r) => (cancelTimer = longTimeout(r, timeoutMs))),
    ])
    cancelTimer?.()
    for (const { exec } of running) exec.stop("shutdown")
    try {
      await this.host.storeCall(this.store.releaseWorkflows(this.executorId))
      await this.lease?.end(true)
    } finally {
      this.stopped()
      if (releaseStore(this.store)) await this.host.runEffect(this.store.close())
    }
  }

  private stopped() {
    this.stopRetention?.()
    this.unobserve?.()
    this.unobserve = undefined
    this.state = "stopped"
    this.parked.clear()
    this.parkWatch.clear()
    this.halt.abort(new EngineStopped({ reason: "the engine was shut down" }))
  }

  /** Give up after a failed launch: stop heartbeating and close the store. */
  async abandon(): Promise<void> {
    await this.schedules.stop()
    await this.debouncing?.stop()
    await this.dispatch?.stop()
    this.stopped()
    await this.lease?.end(false)
    if (releaseStore(this.store)) await this.host.runEffect(this.store.close())
  }

  /** Drop every execution at once, as a SIGKILL would: no further write leaves this engine. For the test kit. */
  crash(): void {
    void this.schedules.stop()
    void this.debouncing?.stop()
    void this.dispatch?.stop()
    void this.lease?.end(false)
    this.stopped()
    for (const { exec } of this.executions.values()) exec.stop("crash")
    this.executions.clear()
  }
}

const executionInfo = (
  engine: Engine,
  record: WorkflowRecord,
  recordedSteps: number,
  origin: ExecutionOrigin,
): ExecutionInfo => ({
  workflowId: record.id,
  workflowName: record.name,
  executorId: engine.executorId,
  appVersion: engine.appVersion,
  origin,
  recoveryAttempts: record.recoveryAttempts,
  recordedSteps,
  input: record.input,
  ...(record.queue === undefined ? {} : { queue: record.queue }),
  // The claim stamps updatedAt: a first claim from the queue ends the wait that began at the enqueue.
  ...(origin === "queue" && record.recoveryAttempts === 0 ? { queuedMs: record.updatedAt - record.createdAt } : {}),
  ...(record.traceContext === undefined ? {} : { carried: record.traceContext }),
  ...(record.parentId === undefined ? {} : { parentId: record.parentId }),
})

const endInfo = (exec: Execution, end: ExecutionEnd | undefined): ExecutionEndInfo => {
  if (end?.status === "SUCCESS") return { status: "SUCCESS", output: end.text }
  if (end?.status === "ERROR") return { status: "ERROR", error: end.error, encoded: end.text }
  const reason = exec.stopped ?? "stopped"
  return reason === "cancelled" || reason === "timeout"
    ? { status: "CANCELLED", reason }
    : { status: "STOPPED", reason }
}
