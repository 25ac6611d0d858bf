/**
 * One execution of a workflow on this executor: runs the workflow function from the top, hands recorded
 * results back in their recorded order (replay), goes live at the first operation with no checkpoint, and
 * records the outcome. See Sequencer for why results are released one at a time.
 */
import { Effect } from "effect"
import { FencedError, InvalidContextUse, NonDeterminismError, StoreError } from "../errors.ts"
import type { Checkpoint, OperationKind, WorkflowRecord } from "../store/Store.ts"
import type { AnyWorkflow } from "../workflow.ts"
import type { Host } from "./Host.ts"
import { decodeError, decodeValue, encodeError, encodeValue, type Codec, type PayloadContext } from "./payload.ts"
import { LazyAbort } from "./LazyAbort.ts"
import { Sequencer } from "./Sequencer.ts"
import { stepScope } from "./stepScope.ts"
import type { ExecutionObserver, OperationObserver, WaitKind } from "../observe/Observer.ts"

export { stepScope, type StepScope, type StepStreamBuffer } from "./stepScope.ts"

/** Why an execution stopped before its workflow finished. `drain` lets running step bodies checkpoint first. */
export type StopReason =
  | "cancelled"
  | "timeout"
  | "fenced"
  | "crash"
  | "shutdown"
  | "store-failure"
  | "dead"
  /** Dropped from memory during a long sleep or wait (parking.ts); it runs again, from its history, when woken. */
  | "parked"

/** Thrown into workflow code when its execution stops here; the workflow is left for whoever owns it. */
export class ExecutionStopped extends Error {
  readonly reason: StopReason
  constructor(reason: StopReason) {
    super(`the execution stopped (${reason})`)
    this.name = "ExecutionStopped"
    this.reason = reason
  }
}

/** The fields of a finished operation, before it is numbered and written. */
export interface OperationResult {
  readonly output?: string
  readonly error?: string
  readonly attempts?: number
  readonly attemptErrors?: string
}

/**
 * An operation that wrote its own done checkpoint; `carried`: what came with what it consumed (a message's
 * trace context), for observers.
 */
export interface Committed {
  readonly committed: Checkpoint
  readonly carried?: string | undefined
}

/** What workflow code gets back from an operation: never an engine problem, which is thrown instead. */
export type Outcome<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly error: unknown }

/**
 * Thrown by an operation that gives up because its workflow function has already returned (the loser of a
 * `Promise.race`, say): the operation records nothing, and its promise never settles.
 */
export class OperationAbandoned extends Error {
  constructor() {
    // Made at every workflow's end and never shown to anyone: a stack trace would be most of its cost.
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super("the workflow function returned while this operation was still waiting")
    Error.stackTraceLimit = limit
    this.name = "OperationAbandoned"
  }
}

export class Execution {
  readonly id: string
  readonly name: string
  readonly payload: PayloadContext
  epoch: number
  /** The lease generation under which this executor last confirmed it owns the workflow (see ownership.ts). */
  confirmedGeneration = 0
  private nextStepId = 0
  private readonly trace: string[] = []
  private readonly sequencer: Sequencer
  private diverged: NonDeterminismError | undefined
  private settled = false
  private stopReason: StopReason | undefined
  /** Stopping, but step bodies that were running may still record their results (graceful shutdown). */
  private draining = false
  /** Aborted on every stop: interrupts sleeps and waits. */
  private readonly waits = new AbortController()
  /** Aborted when the stop does not let step bodies finish: aborts their signals. */
  private readonly bodies = new LazyAbort()
  /** Aborted when the workflow function has returned: operations still waiting give up. */
  private readonly settles = new LazyAbort()
  private waitOrSettle: AbortSignal | undefined
  private stallTimer = false
  private readonly furthestRecorded: number
  /** Live operations running right now (not waiting for their turn). */
  private liveRunning = 0

  readonly host: Host
  readonly definition: AnyWorkflow
  readonly record: WorkflowRecord
  private readonly recorded: ReadonlyMap<number, Checkpoint>
  /** Watches this execution (logs, traces, metrics), when the engine has observers. */
  observed: ExecutionObserver | undefined

  constructor(host: Host, definition: AnyWorkflow, record: WorkflowRecord, recorded: ReadonlyMap<number, Checkpoint>) {
    this.host = host
    this.definition = definition
    this.record = record
    this.recorded = recorded
    this.id = record.id
    this.name = record.name
    this.epoch = record.epoch
    this.payload = {
      serializer: host.serializer,
      maxPayloadBytes: host.maxPayloadBytes,
      workflowId: record.id,
      workflowName: record.name,
    }
    const seqs: number[] = []
    for (const cp of recorded.values()) if (cp.state === "done" && cp.seq !== undefined) seqs.push(cp.seq)
    this.sequencer = new Sequencer(seqs)
    this.furthestRecorded = Math.max(-1, ...recorded.keys())
  }

  get stopped(): StopReason | undefined {
    return this.stopReason
  }

  /** The divergence found, if the code no longer matches the history. */
  get divergence(): NonDeterminismError | undefined {
    return this.diverged
  }

  /**
   * True until the code has caught up with its history: recorded results remain to be released, or an
   * operation that had started before the restart (a sleep, a step between retries) is not reached yet.
   */
  get replaying(): boolean {
    return this.sequencer.replaying || this.nextStepId <= this.furthestRecorded
  }

  /** Signal that aborts when step bodies must stop. */
  get bodySignal(): AbortSignal {
    return this.bodies.signal
  }

  /** Signal that aborts on any stop. */
  get waitSignal(): AbortSignal {
    return this.waits.signal
  }

  /** True once the workflow function has returned (or thrown). */
  get isSettled(): boolean {
    return this.settled
  }

  /** Signal that aborts on any stop, and when the workflow function returns: for operations that wait. */
  get waitingSignal(): AbortSignal {
    return (this.waitOrSettle ??= AbortSignal.any([this.waits.signal, this.settles.signal]))
  }

  /** Stop this execution. `drain` (shutdown) lets running step bodies finish and checkpoint. */
  stop(reason: StopReason, drain = false): void {
    if (this.stopReason) {
      if (!drain) {
        this.draining = false
        this.bodies.abort(new ExecutionStopped(reason))
      }
      return
    }
    this.stopReason = reason
    this.draining = drain
    this.waits.abort(new ExecutionStopped(reason))
    if (!drain) this.bodies.abort(new ExecutionStopped(reason))
  }

  /** The position the next operation will take. */
  get nextPosition(): number {
    return this.nextStepId
  }

  /** The recorded checkpoint at a position, if any. */
  recordedAt(stepId: number): Checkpoint | undefined {
    return this.recorded.get(stepId)
  }

  /** The checks every operation makes before it is numbered. */
  guard(operation: string): void {
    const inStep = stepScope.getStore()
    if (inStep)
      throw new InvalidContextUse({
        reason: `ctx.${operation}() was called inside the body of step "${inStep.step}" of workflow ${inStep.workflowId}: steps do not nest. Call ctx operations from the workflow function, and plain functions inside steps.`,
      })
    if (this.settled)
      throw new InvalidContextUse({
        reason: `ctx.${operation}() was called after workflow ${this.name} (${this.id}) finished: await every operation before the workflow function returns.`,
      })
    this.checkAlive()
  }

  checkAlive(): void {
    if (this.diverged) throw this.diverged
    if (this.stopReason) throw new ExecutionStopped(this.stopReason)
  }

  /** Like checkAlive, but a draining execution may still record work that already finished. */
  private checkWritable(): void {
    if (this.diverged) throw this.diverged
    if (this.stopReason && !this.draining) throw new ExecutionStopped(this.stopReason)
  }

  /**
   * Run one operation: number it, check it against the history, replay its recorded result or run `live`
   * and record what it returns. `live` may write pending checkpoints (and get the recorded one, if any).
   * An operation whose `live` throws OperationAbandoned records nothing and never settles.
   */
  async operation<A>(
    kind: OperationKind,
    name: string,
    decode: { readonly output?: Codec<unknown> | undefined; readonly error?: Codec<unknown> | undefined },
    live: (
      stepId: number,
      pending: Checkpoint | undefined,
      /**
       * For operations that write their own done checkpoint (in a transaction, or through a store method that
       * writes it with their effect): numbers and builds it. The number is the completion order, so call it
       * just before the write.
       */
      prepare: (result: OperationResult) => Checkpoint,
      /** Gives the number back after a write that did not happen (nothing was there to receive, say). */
      retract: () => void,
    ) => Promise<OperationResult | Committed>,
  ): Promise<Outcome<A>> {
    // A reaction, not an async frame: a waiting operation holds no suspended frame here.
    return this.runOperation<A>(kind, name, decode, live).catch((e: unknown) => {
      if (e instanceof OperationAbandoned) return new Promise<never>(() => undefined)
      throw e
    })
  }

  private async runOperation<A>(
    kind: OperationKind,
    name: string,
    decode: { readonly output?: Codec<unknown> | undefined; readonly error?: Codec<unknown> | undefined },
    live: Parameters<Execution["operation"]>[3],
  ): Promise<Outcome<A>> {
    this.guard(kind)
    const stepId = this.nextStepId++
    this.trace[stepId] = `${kind} ${JSON.stringify(name)}`
    const cp = this.recorded.get(stepId)
    if (cp && (cp.kind !== kind || cp.name !== name))
      throw this.diverge(
        stepId,
        `the history has ${cp.kind} ${JSON.stringify(cp.name)}, the code now calls ${kind} ${JSON.stringify(name)}`,
      )
    let done: Checkpoint
    if (cp?.state === "done" && cp.seq !== undefined) {
      const watch = this.observed?.operation?.({ kind, name, stepId, replayed: true })
      this.watchForStall()
      try {
        await this.sequencer.turn(cp.seq)
      } finally {
        watch?.end({})
      }
      done = cp
    } else {
      // Observed from here until the result is handed over. An observer may refuse a live operation by
      // throwing (the test kit's verifyReplay does: the recorded run never reached it); nothing has run yet.
      const watch: OperationObserver | undefined = this.observed?.operation?.({ kind, name, stepId })
      this.liveRunning++
      let seq: number | undefined
      let carried: string | undefined
      const startedAt = cp?.startedAt ?? this.host.clock.currentTimeMillisUnsafe()
      const prepare = (result: OperationResult): Checkpoint => {
        seq ??= this.sequencer.assign()
        return {
          stepId,
          name,
          kind,
          state: "done",
          seq,
          attempts: result.attempts ?? 1,
          ...(result.output === undefined ? {} : { output: result.output }),
          ...(result.error === undefined ? {} : { error: result.error }),
          ...(result.attemptErrors === undefined ? {} : { attemptErrors: result.attemptErrors }),
          startedAt,
          completedAt: this.host.clock.currentTimeMillisUnsafe(),
        }
      }
      const retract = () => {
        if (seq !== undefined) this.sequencer.abandon(seq)
        seq = undefined
      }
      try {
        let result: OperationResult | Committed
        try {
          const pendingCp = cp?.state === "pending" ? cp : undefined
          // In the operation's scope: a child started or enqueued here carries it as its parent.
          result = await (watch?.run
            ? watch.run(() => live(stepId, pendingCp, prepare, retract))
            : live(stepId, pendingCp, prepare, retract))
        } finally {
          this.liveRunning--
        }
        if ("committed" in result) {
          done = result.committed
          carried = result.carried
        } else {
          this.checkWritable()
          done = await this.write(prepare(result))
        }
      } catch (e) {
        if (seq !== undefined) this.sequencer.abandon(seq)
        watch?.end({ error: e })
        throw e
      }
      await this.sequencer.turn(done.seq ?? seq!)
      watch?.end({
        ...(done.error === undefined ? {} : { error: done.error }),
        ...(carried === undefined ? {} : { carried }),
      })
    }
    this.checkAlive()
    const what = `${kind} "${name}"`
    if (done.error !== undefined) return { ok: false, error: decodeError(done.error, decode.error, this.payload) }
    return {
      ok: true,
      value: (done.output === undefined ? undefined : decodeValue(done.output, decode.output, what, this.payload)) as A,
    }
  }

  /** Write a checkpoint under this execution's epoch; a refusal stops the execution. */
  async write(checkpoint: Checkpoint): Promise<Checkpoint> {
    this.checkWritable()
    return this.commit((epoch) => this.host.store.writeCheckpoint(this.id, epoch, checkpoint))
  }

  /**
   * Run a store call for this execution (a write carrying its epoch, or a read it depends on); a refusal
   * (FencedError) or a store failure stops the execution and rejects with ExecutionStopped.
   */
  async commit<A>(call: (epoch: number) => Effect.Effect<A, FencedError | StoreError>): Promise<A> {
    this.checkWritable()
    try {
      return await this.host.storeCall(call(this.epoch), undefined, this.waitingOnTime)
    } catch (e) {
      throw this.onWriteFailure(e)
    }
  }

  onWriteFailure(e: unknown): unknown {
    if (e instanceof FencedError) {
      const reason: StopReason = e.status === "CANCELLED" ? "cancelled" : "fenced"
      this.stop(reason)
      return new ExecutionStopped(reason)
    }
    if (e instanceof StoreError && e.kind === "invalid-data" && !this.stopReason) {
      // The database refuses the value itself: a recovery would write it and fail again, forever. The
      // operation fails instead, with this typed error, and the workflow can handle it or fail with it.
      this.host.log({
        level: "error",
        message: `the store refused a value of this workflow; the operation fails: ${String(e)}`,
        workflowId: this.id,
        workflowName: this.name,
      })
      return e
    }
    if (!this.stopReason) {
      this.host.log({
        level: "error",
        message: `store write failed; leaving the workflow for recovery: ${String(e)}`,
        workflowId: this.id,
        workflowName: this.name,
      })
      this.stop("store-failure")
    }
    return new ExecutionStopped(this.stopReason ?? "store-failure")
  }

  /**
   * Whether the operation running now may park the workflow (see parking.ts): it is the only live operation
   * (no step body, wait or write in flight beside it) of a live execution that has caught up with its history.
   */
  parkable(): boolean {
    return !this.replaying && !this.stopReason && this.liveRunning === 1
  }

  /** Leave memory: stop here; the engine runs the workflow again from its history when it is woken. */
  park(): never {
    this.stop("parked")
    throw new ExecutionStopped("parked")
  }

  /**
   * Wait until `instant` on the engine's clock; rejects with ExecutionStopped if the execution stops. A long
   * sleep that is all the workflow waits for may park it instead: it then stops here.
   */
  async waitUntil(instant: number, parkable = false): Promise<void> {
    const remaining = instant - this.host.clock.currentTimeMillisUnsafe()
    if (parkable && this.parkable() && this.host.parkUntil(this, instant)) this.park()
    if (remaining > 0) {
      const resume = this.waiting("time")
      try {
        await this.host.runEffect(Effect.sleep(remaining), this.waits.signal)
      } catch {
        this.checkAlive()
      } finally {
        resume?.()
      }
    }
    this.checkAlive()
  }

  /** Tell observers this execution waits (on time, or on the outside world); call what it returns after. */
  waiting(on: WaitKind): (() => void) | undefined {
    return this.observed?.waiting?.(on)
  }

  /** A store call of this execution's live operation waits to retry. */
  readonly waitingOnTime = (): (() => void) | undefined => this.waiting("time")

  encode(value: unknown, codec: Codec<unknown> | undefined, what: string): string {
    return encodeValue(value, codec, what, this.payload)
  }

  encodeError(error: unknown, codec: Codec<unknown> | undefined, what: string): string {
    return encodeError(error, codec, what, this.payload)
  }

  diverge(stepId: number, detail: string): NonDeterminismError {
    if (this.diverged) return this.diverged
    const recorded: string[] = []
    for (const [id, cp] of [...this.recorded].sort((a, b) => a[0] - b[0]))
      recorded[id] = `${cp.kind} ${JSON.stringify(cp.name)}`
    this.diverged = new NonDeterminismError({
      workflowId: this.id,
      stepId,
      detail,
      recorded: Array.from(recorded, (r) => r ?? "(none)"),
      current: Array.from(this.trace, (r) => r ?? "(none)"),
    })
    this.waits.abort(this.diverged)
    return this.diverged
  }

  /**
   * While replaying, a recorded result whose operation the code never calls would hold everything after it
   * forever. When the workflow has gone quiet with such a result pending, that is divergence.
   */
  private watchForStall(): void {
    if (this.stallTimer) return
    this.stallTimer = true
    let lastCalls = -1
    let quietTurns = 0
    const check = () => {
      const head = this.sequencer.replayHead
      if (head === undefined || this.stopReason || this.diverged || this.settled) {
        this.stallTimer = false
        return
      }
      quietTurns = this.nextStepId === lastCalls && this.liveRunning === 0 ? quietTurns + 1 : 0
      lastCalls = this.nextStepId
      if (quietTurns >= 20) {
        const stepId = [...this.recorded.values()].find((cp) => cp.seq === head)?.stepId ?? this.nextStepId
        this.diverge(stepId, `the history records a result for operation #${stepId}, but the code never called it`)
        this.stallTimer = false
        return
      }
      setTimeout(check, 5)
    }
    setTimeout(check, 5)
  }

  /** Run the workflow function; returns what to record, or undefined when the execution stopped. */
  async runBody(invoke: () => Promise<unknown>): Promise<Outcome<unknown> | undefined> {
    let outcome: Outcome<unknown>
    try {
      outcome = { ok: true, value: await invoke() }
    } catch (error) {
      outcome = { ok: false, error }
    }
    this.settled = true
    this.settles.abort(new OperationAbandoned())
    if (this.stopReason) return undefined
    if (this.diverged) return { ok: false, error: this.diverged }
    if (this.sequencer.replaying) {
      const pending = [...this.recorded.values()].filter((cp) => cp.state === "done" && cp.stepId >= this.nextStepId)
      const first = pending.sort((a, b) => a.stepId - b.stepId)[0]
      const stepId = first?.stepId ?? this.nextStepId
      return {
        ok: false,
        error: this.diverge(
          stepId,
          `the workflow returned before reaching operation #${stepId}, which the history records`,
        ),
      }
    }
    return outcome
  }
}
