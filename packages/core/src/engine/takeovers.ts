/**
 * Taking work back and over: at launch, this executor's own PENDING workflows (after a restart) and those
 * nobody owns (released by a shutdown); while it runs, those of executors whose lease expired. Claims come
 * in batches with one taker each; a queued workflow of another executor goes back on its queue instead.
 */
import type { Checkpoint, WorkflowRecord } from "../store/Store.ts"
import type { AnyWorkflow } from "../workflow.ts"
import type { EngineConfig } from "./Engine.ts"
import type { Execution } from "./Execution.ts"
import type { Host } from "./Host.ts"
import type { ClaimGuard } from "./claimGuard.ts"
import { noteFailures } from "./orphans.ts"
import type { ExecutionOrigin } from "../observe/Observer.ts"

/** What the takeover and dispatch code may see and do of the engine that runs it. */
export interface Runner {
  readonly host: Host
  readonly config: EngineConfig
  readonly definitions: ReadonlyMap<string, AnyWorkflow>
  readonly executions: ReadonlyMap<string, { readonly exec: Execution; readonly done: Promise<unknown> }>
  /** The engine takes work (not stopping). */
  readonly running: boolean
  /** How many more workflows it may take from queues and from others now. */
  readonly room: number
  /** Look for workflows a claim whose answer was lost took (engine/orphans.ts), and run them. */
  readonly adoptOrphans: () => void
  /** Run an execution of a workflow just claimed, with its history. */
  readonly execute: (
    def: AnyWorkflow,
    record: WorkflowRecord,
    checkpoints: ReadonlyArray<Checkpoint>,
    origin: ExecutionOrigin,
  ) => void
  /** Workflows being created or claimed here that have no execution yet. */
  readonly claiming: ClaimGuard
}

/** The claim `record` is newer than any execution of it running here (so it is to run). */
export const supersedes = (runner: Runner, record: WorkflowRecord): boolean => {
  const current = runner.executions.get(record.id)
  return current === undefined || current.exec.epoch < record.epoch
}

/** Most workflows one takeover claims: more are taken in further batches. */
const batchSize = 500

export class Takeovers {
  private readonly unknownNames = new Set<string>()
  private inProgress = false

  private readonly runner: Runner

  constructor(runner: Runner) {
    this.runner = runner
  }

  /**
   * Take back this executor's own PENDING workflows and those nobody owns, batch after batch, except those
   * running or being started here. Workflows whose code this executor lacks are reported once and released.
   * Returns how many executions it started.
   */
  async recover(): Promise<number> {
    const { host, config, definitions } = this.runner
    const owned = await host.storeCall(host.store.listWorkflows({ status: ["PENDING"], executorId: config.executorId }))
    const unknown = owned.filter((r) => !definitions.has(r.name))
    for (const r of unknown) this.reportUnknown(r)
    if (unknown.length > 0)
      await host.storeCall(
        host.store.releaseWorkflows(
          config.executorId,
          unknown.map((r) => r.id),
        ),
      )
    let resumed = 0
    for (;;) {
      const round = await this.takeOver({ includeOwn: true, includeExpired: false })
      resumed += round.claimed
      if (!round.full) return resumed
    }
  }

  /**
   * Take over the work nobody owns and (with `includeExpired`) that of executors whose lease expired, batch
   * after batch while batches come back full, without holding up the heartbeat that asks for it.
   */
  inBackground(includeExpired: boolean): void {
    if (this.inProgress) return
    this.inProgress = true
    void (async () => {
      try {
        while ((await this.takeOver({ includeOwn: false, includeExpired })).full);
      } catch (e) {
        if (this.runner.running)
          this.runner.config.log({ level: "warn", message: `taking over other executors' work failed: ${String(e)}` })
      } finally {
        this.inProgress = false
      }
    })()
  }

  /** Stop the executions whose workflows this executor no longer owns (taken over, cancelled, finished). */
  async dropLost(generation: number): Promise<void> {
    const { host, config } = this.runner
    const running = [...this.runner.executions.values()].map((r) => r.exec)
    if (running.length === 0) return
    const records = await host.runEffect(host.store.listWorkflows({ ids: running.map((e) => e.id) }))
    const byId = new Map(records.map((r) => [r.id, r]))
    for (const exec of running) {
      const r = byId.get(exec.id)
      if (r && r.status === "PENDING" && r.epoch === exec.epoch && r.executorId === config.executorId) {
        exec.confirmedGeneration = Math.max(exec.confirmedGeneration, generation)
        continue
      }
      config.log({
        level: "warn",
        message:
          "this executor was silent past its lease and the workflow moved on meanwhile; stopping its execution here",
        workflowId: exec.id,
        workflowName: exec.name,
      })
      exec.stop(r?.status === "CANCELLED" ? "cancelled" : "fenced")
    }
  }

  private reportUnknown(record: WorkflowRecord) {
    if (this.unknownNames.has(record.id)) return
    this.unknownNames.add(record.id)
    this.runner.config.log({
      level: "warn",
      message: `no workflow named ${JSON.stringify(record.name)} is registered here; leaving it for an executor that has its code`,
      workflowId: record.id,
      workflowName: record.name,
    })
  }

  /**
   * Claim workflows in one batch (bounded by the room left) and run them. `full`: the batch was as big as
   * allowed, so more may be waiting.
   */
  private async takeOver(scope: {
    readonly includeOwn: boolean
    readonly includeExpired: boolean
  }): Promise<{ readonly claimed: number; readonly full: boolean }> {
    const none = { claimed: 0, full: false }
    const { host, config, definitions, executions, claiming } = this.runner
    if (!this.runner.running) return none
    const limit = Math.min(batchSize, this.runner.room)
    if (limit <= 0) return none
    const lost = { value: false }
    const claims = await host.storeCall(
      noteFailures(
        host.store.takeOver(config.executorId, {
          ...scope,
          appVersion: config.appVersion,
          names: [...definitions.keys()],
          limit,
          maxRecoveryAttempts: config.maxRecoveryAttempts,
          ...(scope.includeOwn ? { exceptIds: [...executions.keys(), ...claiming.ids] } : {}),
        }),
        lost,
      ),
    )
    const claimed = claims.flatMap((c) => (c._tag === "Claimed" ? [c.record] : []))
    for (const c of claims)
      if (c._tag === "Dead")
        config.observer?.event?.({
          type: "dead",
          workflowId: c.record.id,
          workflowName: c.record.name,
          recoveryAttempts: c.record.recoveryAttempts - 1,
          executorId: config.executorId,
          appVersion: config.appVersion,
        })
    await claiming.hold(
      claimed.map((r) => r.id),
      () =>
        Promise.all(
          claimed.map(async (record) => {
            const def = definitions.get(record.name)
            if (!def || !supersedes(this.runner, record) || !this.runner.running) return
            const checkpoints = await host.storeCall(host.store.loadCheckpoints(record.id))
            if (this.runner.running)
              this.runner.execute(def, record, checkpoints, scope.includeExpired ? "takeover" : "recovery")
          }),
        ),
    )
    if (lost.value) this.runner.adoptOrphans()
    if (claimed.length > 0)
      config.observer?.event?.({
        type: scope.includeExpired ? "takenOver" : "recovered",
        count: claimed.length,
        executorId: config.executorId,
        appVersion: config.appVersion,
      })
    return { claimed: claimed.length, full: claims.length >= limit }
  }
}
