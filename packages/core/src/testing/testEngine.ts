/**
 * The test kit: an engine on the in-memory store with a virtual clock, plus the controls a unit test needs
 * to prove durability: advance time, crash (as a SIGKILL would), restart from the store alone, and check
 * that a finished workflow still replays against its recorded history.
 */
import { Clock, Context, Effect } from "effect"
import { resolveConfig, type LaunchOptions } from "../config.ts"
import { fromEngine, type Durably } from "../Durably.ts"
import { toMillis, type DurationInput } from "../duration.ts"
import { Engine, type EngineConfig } from "../engine/Engine.ts"
import type { WorkflowHandle } from "../engine/handle.ts"
import type { ReadStreamOptions } from "../engine/streams.ts"
import { InvalidArgument, NonDeterminismError, WorkflowNotFound } from "../errors.ts"
import { memoryStore } from "../store/memory.ts"
import type { Store } from "../store/Store.ts"
import type { AnyWorkflow } from "../workflow.ts"
import { quiescence, type Quiescence } from "./quiescence.ts"
import { VirtualClock } from "./VirtualClock.ts"

export interface TestEngineOptions<W extends AnyWorkflow> extends Omit<LaunchOptions<W>, "store"> {
  /** Default: a fresh `memoryStore()`. */
  readonly store?: Store
  /** Where virtual time starts. Default 2026-01-01T00:00:00Z. */
  readonly startAt?: Date | number
  /** Services that Effect-flavour workflows need (e.g. `Context.make(Greeter, testGreeter)`). */
  readonly services?: Context.Context<any>
}

export type ReplayReport = { readonly ok: true } | { readonly ok: false; readonly error: NonDeterminismError | Error }

export interface TestEngine extends Durably {
  readonly store: Store
  readonly clock: VirtualClock
  /** Current virtual time. */
  readonly now: () => Date
  /**
   * Wait until nothing is runnable: every workflow waits on time or on the outside world. A step body that
   * waits on real time or I/O counts as the outside world: await the handle (or `settle` after it) to see
   * what follows it.
   */
  readonly settle: () => Promise<void>
  /** Settle, then move time forward by `duration`, firing due sleeps, retries and timeouts in order. */
  readonly advance: (duration: DurationInput) => Promise<void>
  /** Drop every in-flight execution as a SIGKILL would: nothing it does afterwards reaches the store. */
  readonly crash: () => Promise<void>
  /** Build a fresh engine from the store alone (same executor id) and recover. */
  readonly restart: () => Promise<void>
  /** Re-run a finished workflow against its recorded history, running no step; reports any divergence. */
  readonly verifyReplay: (id: string) => Promise<ReplayReport>
}

const macrotask = () => new Promise<void>((r) => setImmediate(r))

export const testEngine = async <W extends AnyWorkflow>(options: TestEngineOptions<W>): Promise<TestEngine> => {
  const store = options.store ?? memoryStore()
  const start = options.startAt instanceof Date ? options.startAt.getTime() : options.startAt
  const clock = new VirtualClock(start)
  // No heartbeats unless asked for: a single test engine needs no failover, and its timers would make
  // every advance() step through them.
  const launchOptions = (quiet: Quiescence): LaunchOptions<W> => ({
    ...options,
    store,
    logger: options.logger ?? false,
    heartbeat: options.heartbeat ?? false,
    // The test kit watches the engine through the observer seam like any other observer.
    observers: [quiet.observer, ...(options.observers ?? [])],
  })
  // Each engine built has its own counts: a crashed one's leftovers do not hold the next one's settle().
  let quiet = quiescence()
  const build = async (recover: boolean) => {
    quiet = quiescence()
    const configured: Effect.Effect<EngineConfig, InvalidArgument> = resolveConfig(launchOptions(quiet)).pipe(
      Effect.provideService(Clock.Clock, clock),
      Effect.provideContext(options.services ?? Context.empty()),
    )
    const config = await Effect.runPromise(configured)
    const e = new Engine(config)
    await e.launch(recover)
    return e
  }
  let engine = await build(options.recover !== false)
  let api = fromEngine(engine)

  const lasting = <O>(id: string): WorkflowHandle<O> => ({
    id,
    result: () => api.handle<O>(id).result(),
    outcome: () => api.handle<O>(id).outcome(),
    status: () => api.handle<O>(id).status(),
    cancel: () => api.handle<O>(id).cancel(),
  })

  // Quiet for a few macrotasks in a row: work handed over through immediates is seen too, and so is a step
  // body that finishes without waiting on real time or I/O (its end is engine work again). A body still
  // running after that waits on something outside the engine, like a message would.
  const settle = async () => {
    let quietTurns = 0
    while (quietTurns < 4) {
      await macrotask()
      if (engine.isStopped) return
      quietTurns = quiet.busy() === 0 ? quietTurns + 1 : 0
    }
  }

  const verifyReplay = async (id: string): Promise<ReplayReport> => {
    const record = await Effect.runPromise(store.getWorkflow(id))
    if (!record) throw new WorkflowNotFound({ workflowId: id })
    if (record.status !== "SUCCESS" && record.status !== "ERROR")
      throw new InvalidArgument({
        reason: `verifyReplay needs a finished workflow (SUCCESS or ERROR); ${id} is ${record.status}`,
      })
    const def = engine.definition(record.name)
    if (!def)
      throw new InvalidArgument({
        reason: `verifyReplay: workflow ${record.name} is not registered in this test engine`,
      })
    const checkpoints = await Effect.runPromise(store.loadCheckpoints(id))
    // Replayed on a scratch store holding only a copy of the workflow (no deadline), so nothing reaches the
    // real one; an observer refuses every live operation, so no step runs.
    const scratch = memoryStore()
    const copy = await Effect.runPromise(
      scratch.createWorkflow({
        id,
        name: record.name,
        input: record.input,
        appVersion: record.appVersion,
        executorId: engine.executorId,
      }),
    )
    const exec = engine.createExecution(def, copy.record, checkpoints, scratch)
    exec.observed = {
      operation: (op) => {
        if (op.replayed) return undefined
        throw exec.diverge(
          op.stepId,
          `the history has no result for ${op.kind} ${JSON.stringify(op.name)}: the recorded run never reached it`,
        )
      },
      end: () => undefined,
    }
    const completion = await engine.runExecution(exec)
    if (exec.divergence) return { ok: false, error: exec.divergence }
    const recorded = record.status === "SUCCESS" ? record.output : record.error
    if (!completion || completion.status !== record.status || completion.text !== recorded)
      return {
        ok: false,
        error: new Error(
          `workflow ${id} replayed to ${completion?.status ?? "no outcome"} ${completion?.text ?? ""}, but it recorded ${record.status} ${recorded ?? ""}`,
        ),
      }
    return { ok: true }
  }

  return {
    get executorId() {
      return api.executorId
    },
    get appVersion() {
      return api.appVersion
    },
    // Handles outlive restarts: each call goes to the engine running now.
    start: async (wf, input, opts) => lasting((await api.start(wf, input, opts)).id),
    run: (wf, input, opts) => api.run(wf, input, opts),
    handle: (id) => lasting(id),
    enqueue: async (queue, wf, input, opts) => lasting((await api.enqueue(queue, wf, input, opts)).id),
    enqueueMany: async (queue, wf, inputs, opts) =>
      (await api.enqueueMany(queue, wf, inputs, opts)).map((h) => lasting(h.id)),
    cancel: (id) => api.cancel(id),
    send: (workflowId, topic, message, opts) => api.send(workflowId, topic, message, opts),
    getEvent: (workflowId, key, opts) => api.getEvent(workflowId, key, opts),
    // Like handles, a stream outlives restarts: each iteration reads through the engine running then.
    readStream: <A>(workflowId: string, key: string, opts?: ReadStreamOptions): AsyncIterable<A> => {
      api.readStream(workflowId, key, opts) // validates the arguments now
      return { [Symbol.asyncIterator]: () => api.readStream<A>(workflowId, key, opts)[Symbol.asyncIterator]() }
    },
    debounce: async (wf, key, input, opts) => lasting((await api.debounce(wf, key, input, opts)).id),
    // Each call goes to the engine running now, as handles do.
    schedules: {
      create: (name, o) => api.schedules.create(name, o),
      list: () => api.schedules.list(),
      get: (name) => api.schedules.get(name),
      update: (name, changes) => api.schedules.update(name, changes),
      pause: (name) => api.schedules.pause(name),
      resume: (name) => api.schedules.resume(name),
      delete: (name) => api.schedules.delete(name),
      trigger: async (name) => lasting((await api.schedules.trigger(name)).id),
      backfill: async (name, from, to) => (await api.schedules.backfill(name, from, to)).map((h) => lasting(h.id)),
    },
    recover: () => api.recover(),
    shutdown: (opts) => api.shutdown(opts),
    // The management API works on the store, so any engine's serves; the one running now runs what it resumes.
    get workflows() {
      return api.workflows
    },
    get queues() {
      return api.queues
    },
    get executors() {
      return api.executors
    },
    store,
    clock,
    now: () => new Date(clock.currentTimeMillisUnsafe()),
    settle,
    advance: async (duration) => {
      const target = clock.currentTimeMillisUnsafe() + toMillis(duration, "advance duration")
      await settle()
      for (;;) {
        const next = clock.nextTimer()
        if (next === undefined || next > target) break
        clock.fireDue(next)
        await settle()
      }
      clock.fireDue(target)
      await settle()
    },
    crash: () => {
      engine.crash()
      return Promise.resolve()
    },
    restart: async () => {
      engine.crash()
      engine = await build(true)
      api = fromEngine(engine)
    },
    verifyReplay,
  }
}
