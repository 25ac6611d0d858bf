/**
 * Parking: a workflow whose only pending work is waiting is dropped from memory, and replayed from its
 * checkpoints when what it waits for may be there. Two kinds of wait park:
 *
 * - a long durable sleep (at least `parkSleepsMs`): its wake-up instant is already recorded (a pending
 *   checkpoint), so the replay reaches the same sleep and finds it due;
 * - a wait for something another party does (`recv`, `getEvent`, a child's result) that has lasted
 *   `parkWaitsMs` (see parkWatch.ts): the parked entry keeps the wait's store subscriptions, and any of them
 *   firing (from this process or, through the store's notifications, from any other), its deadline passing,
 *   or the workflow's own status changing (a cancel) runs it again; the replay reaches the same wait and
 *   looks again. A wait parks only after a while, not at its first miss: a workflow receiving a stream of
 *   messages would otherwise replay its history for every one.
 *
 * A parked workflow costs an entry (and, for a wait, its subscriptions) instead of an execution. One timer
 * serves every parked deadline (the earliest, from a heap), on the engine's clock, so the test kit's virtual
 * time drives it like any other sleep. Nothing is lost by parking: the workflow stays PENDING and owned in
 * the store, and a restart or takeover replays it like any other.
 */
import { Effect } from "effect"
import type { Wake } from "../store/Store.ts"
import type { Execution } from "./Execution.ts"
import type { Runner } from "./takeovers.ts"

interface Parked {
  readonly id: string
  readonly epoch: number
  /** Engine-clock instant at which it runs again whatever happened; undefined: only a wake-up runs it. */
  readonly wakeAt: number | undefined
  /** The wait's subscriptions (none for a sleep). */
  unsubscribe: Array<() => void> | undefined
}

export class Parking {
  /** Every parked workflow, by id. */
  private readonly entries = new Map<string, Parked>()
  /** Parked entries with a wake-up instant, as a binary min-heap on it; entries woken early stay until popped. */
  private heap: Parked[] = []
  private stale = 0
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

  /** How many workflows are parked here now. */
  get size(): number {
    return this.entries.size
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
    this.add({ id: exec.id, epoch: exec.epoch, wakeAt: until, unsubscribe: undefined })
    return true
  }

  /**
   * Park `exec`, which waits for `wakes` until `deadline` (if any): it runs again when one of them fires, its
   * own status changes, or the earlier of the deadline and the workflow's own deadline passes (the replay
   * then times the workflow out). Subscribed before this returns, so nothing after the wait's last look is
   * missed. False: parking is off or the engine is stopping; it stays in memory.
   */
  parkWaiting(exec: Execution, wakes: ReadonlyArray<Wake>, deadline: number | undefined): boolean {
    if (this.runner.config.parkWaitsMs === undefined || !this.runner.running) return false
    const own = exec.record.deadline
    const wakeAt = deadline === undefined ? own : own === undefined ? deadline : Math.min(deadline, own)
    const entry: Parked = { id: exec.id, epoch: exec.epoch, wakeAt, unsubscribe: undefined }
    const fire = () => {
      if (this.entries.get(entry.id) !== entry) return
      this.remove(entry)
      void this.wake(entry.id, entry.epoch)
    }
    const store = this.host.store
    entry.unsubscribe = [
      ...wakes.map((w) => store.subscribe(w, fire)),
      store.subscribe({ kind: "status", workflowId: exec.id }, fire),
    ]
    this.add(entry)
    return true
  }

  /** Whether this workflow is parked here (or being woken). */
  has(id: string): boolean {
    return this.entries.has(id) || this.waking.has(id)
  }

  /** Forget every parked workflow (the engine stops): they stay PENDING in the store for recovery. */
  clear(): void {
    for (const entry of this.entries.values()) for (const u of entry.unsubscribe ?? []) u()
    this.entries.clear()
    this.heap = []
    this.stale = 0
    this.timer?.abort()
    this.timer = undefined
    this.timerAt = undefined
  }

  private add(entry: Parked): void {
    const previous = this.entries.get(entry.id)
    if (previous) this.remove(previous)
    this.entries.set(entry.id, entry)
    if (entry.wakeAt === undefined) return
    this.push(entry)
    this.arm()
  }

  /** Out of the map, its subscriptions ended (its heap place, if any, is the caller's business). */
  private detach(entry: Parked): void {
    this.entries.delete(entry.id)
    for (const u of entry.unsubscribe ?? []) u()
    entry.unsubscribe = undefined
  }

  private remove(entry: Parked): void {
    this.detach(entry)
    if (entry.wakeAt === undefined) return
    // Left in the heap until it is popped; rebuilt when mostly stale, so waits woken early do not pile up.
    this.stale++
    if (this.stale > 1024 && this.stale * 2 > this.heap.length) {
      const live = this.heap.filter((e) => this.entries.get(e.id) === e)
      this.heap = []
      this.stale = 0
      for (const e of live) this.push(e)
    }
  }

  /** A parked workflow is due or woken: run it again from its history, if it is still ours at that epoch. */
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

  private push(entry: Parked): void {
    const heap = this.heap
    let i = heap.push(entry) - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.wakeAt! <= entry.wakeAt!) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = entry
  }

  private pop(): Parked | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= heap.length) break
      const r = l + 1
      const c = r < heap.length && heap[r]!.wakeAt! < heap[l]!.wakeAt! ? r : l
      if (heap[c]!.wakeAt! >= last.wakeAt!) break
      heap[i] = heap[c]!
      i = c
    }
    heap[i] = last
    return top
  }

  private arm(): void {
    const first = this.heap[0]
    if (!first || (this.timerAt !== undefined && this.timerAt <= first.wakeAt!)) return
    this.timer?.abort()
    const timer = new AbortController()
    this.timer = timer
    this.timerAt = first.wakeAt
    const remaining = Math.max(0, first.wakeAt! - this.host.clock.currentTimeMillisUnsafe())
    this.host.runEffect(Effect.sleep(remaining), timer.signal).then(
      () => {
        if (this.timer !== timer) return
        this.timer = undefined
        this.timerAt = undefined
        const now = this.host.clock.currentTimeMillisUnsafe()
        while (this.heap.length > 0 && this.heap[0]!.wakeAt! <= now) {
          const due = this.pop()!
          if (this.entries.get(due.id) !== due) {
            this.stale = Math.max(0, this.stale - 1)
            continue
          }
          this.detach(due)
          void this.wake(due.id, due.epoch)
        }
        this.arm()
      },
      () => undefined,
    )
  }
}
