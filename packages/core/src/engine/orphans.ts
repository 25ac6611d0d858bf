/**
 * Claims whose answer was lost. A claim (of queued work, or a takeover) is one statement; when the connection
 * drops after it committed, the store call fails and is retried, and the retry cannot tell what the first one
 * took. What it took is PENDING and owned by this executor, which is alive and heartbeating, so no other
 * executor takes it over either: without a second look it would wait until this process restarts. The same
 * holds for an execution here fenced by a claim of this executor's own (a retried start that claims what it
 * created, `recover()`): the claim's new epoch is ours, but nothing here runs it.
 */
import { Effect } from "effect"
import type { Runner } from "./takeovers.ts"

/** Mark `lost` when any attempt of `effect` fails: a retried claim may have committed before its answer was lost. */
export const noteFailures = <A, E, R>(effect: Effect.Effect<A, E, R>, lost: { value: boolean }) =>
  Effect.tapError(effect, () =>
    Effect.sync(() => {
      lost.value = true
    }),
  )

/**
 * Run this executor's PENDING workflows that no execution here runs. They keep the epoch their lost claim gave
 * them: claiming them again would bump it under any execution starting here at that instant, fencing it.
 */
export class Orphans {
  private running = false
  private again = false
  private readonly runner: Runner
  /** Parked workflows are ours and not in memory by design: their timer runs them. */
  private readonly parked: (id: string) => boolean

  constructor(runner: Runner, parked: (id: string) => boolean) {
    this.runner = runner
    this.parked = parked
  }

  /** Look for orphans (in the background; a call while a look is under way asks for another one after it). */
  adopt(): void {
    if (this.running) {
      this.again = true
      return
    }
    this.running = true
    void (async () => {
      try {
        do {
          this.again = false
          await this.round()
        } while (this.again)
      } catch (e) {
        if (this.runner.running)
          this.runner.config.log({ level: "warn", message: `looking for orphaned claims failed: ${String(e)}` })
      } finally {
        this.running = false
      }
    })()
  }

  private async round(): Promise<void> {
    const { host, config, definitions, executions } = this.runner
    const owned = await host.storeCall(host.store.listWorkflows({ status: ["PENDING"], executorId: config.executorId }))
    for (const listed of owned) {
      const def = definitions.get(listed.name)
      if (!def || executions.has(listed.id) || this.parked(listed.id) || !this.runner.running) continue
      const checkpoints = await host.storeCall(host.store.loadCheckpoints(listed.id))
      // Read again after the history: an execution here may have ended (or started) meanwhile.
      const record = await host.storeCall(host.store.getWorkflow(listed.id))
      if (
        !record ||
        record.status !== "PENDING" ||
        record.executorId !== config.executorId ||
        record.epoch !== listed.epoch ||
        executions.has(record.id) ||
        this.parked(record.id) ||
        !this.runner.running
      )
        continue
      config.log({
        level: "info",
        message: "running a workflow this executor owns that nothing here ran (a lost claim, or a fenced execution)",
        workflowId: record.id,
        workflowName: record.name,
      })
      this.runner.execute(def, record, checkpoints, "recovery")
    }
  }
}
