/**
 * Parking long sleeps: a workflow whose only pending work is a long durable sleep is dropped from memory, and
 * replayed from its checkpoints when the sleep is due. Its sleep is already recorded (a pending checkpoint
 * with the wake-up instant), so the replay reaches the same sleep and finds it due; nothing is lost, and ten
 * thousand sleeping workflows cost an entry each instead of an execution each.
 *
 * One timer serves every parked workflow (the earliest due), on the engine's clock, so the test kit's virtual
 * time drives it like any other sleep.
 */
import { Effect } from "effect"
import type { Execution } from "./Execution.ts"
import type { Runner } from "./takeovers.ts"

interface Parked {
  readonly id: string
  readonly epoch: number
  readonly wakeAt: number
}

export class ParkedSleeps {
  /** Due order, earliest first. */
  private readonly entries: Parked[] = []
  private timer: AbortController | undefined
  private timerAt: number | undefined
  private readonly runner: Runner
  /** Parked workflows being run again. */
  private readonly waking = new Set<string>()

  constructor(runner: Runner) {
    this.runner = runner
  }

  private get host() {
    return this.runner.host
  }

  /**
   * Park `exec` until `until`, if the sleep is long enough, parking is on, and the workflow's deadline comes
   * after the wake-up (its timeout must fire while it sleeps). False: it stays in memory.
   */
  parkUntil(exec: Execution, until: number): boolean {
    const parkMs = this.runner.config.parkSleepsMs
    if (parkMs === undefined || !this.runner.running) return false
    if (until - this.host.clock.currentTimeMillisUnsafe() < parkMs) return false
    if (exec.record.deadline !== undefined && exec.record.deadline <= until) return false
    this.park(exec.id, exec.epoch, until)
    return true
  }

  /** A parked workflow's sleep is due: run it again from its history, if it is still ours at that epoch. */
  private async wake(id: string, epoch: number): Promise<void> {
    const { host, config, definitions, executions } = this.runner
    if (this.waking.has(id)) return
    this.waking.add(id)
    try {
      // The parked execution may not have left the engine's map yet: let it finish leaving.
      const current = executions.get(id)
      if (current && current.exec.stopped !== "parked") return
      await current?.done
      if (!this.runner.running || executions.has(id)) return
      const record = await host.storeCall(host.store.getWorkflow(id))
      const def = record && definitions.get(record.name)
      if (!record || !def || record.status !== "PENDING" || record.executorId !== config.executorId) return
      if (record.epoch !== epoch) return
      const checkpoints = await host.storeCall(host.store.loadCheckpoints(id))
      if (this.runner.running && !executions.has(id)) this.runner.execute(def, record, checkpoints, "wake")
    } catch (e) {
      // Still PENDING and ours in the store: recovery (a restart, or another executor) runs it.
      config.log({ level: "warn", message: `could not wake a parked workflow: ${String(e)}`, workflowId: id })
    } finally {
      this.waking.delete(id)
    }
  }

  private park(id: string, epoch: number, wakeAt: number): void {
    // Binary search for the insertion point: entries stay sorted by due time.
    let lo = 0
    let hi = this.entries.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (this.entries[mid]!.wakeAt <= wakeAt) lo = mid + 1
      else hi = mid
    }
    this.entries.splice(lo, 0, { id, epoch, wakeAt })
    this.arm()
  }

  /** Whether this workflow is parked here (or being woken). */
  has(id: string): boolean {
    return this.waking.has(id) || this.entries.some((e) => e.id === id)
  }

  /** Forget every parked workflow (the engine stops): they stay PENDING in the store for recovery. */
  clear(): void {
    this.entries.length = 0
    this.timer?.abort()
    this.timer = undefined
    this.timerAt = undefined
  }

  private arm(): void {
    const first = this.entries[0]
    if (!first || (this.timerAt !== undefined && this.timerAt <= first.wakeAt)) return
    this.timer?.abort()
    const timer = new AbortController()
    this.timer = timer
    this.timerAt = first.wakeAt
    const remaining = Math.max(0, first.wakeAt - this.host.clock.currentTimeMillisUnsafe())
    this.host.runEffect(Effect.sleep(remaining), timer.signal).then(
      () => {
        if (this.timer !== timer) return
        this.timer = undefined
        this.timerAt = undefined
        const now = this.host.clock.currentTimeMillisUnsafe()
        let due = 0
        while (due < this.entries.length && this.entries[due]!.wakeAt <= now) due++
        for (const p of this.entries.splice(0, due)) void this.wake(p.id, p.epoch)
        this.arm()
      },
      () => undefined,
    )
  }
}
