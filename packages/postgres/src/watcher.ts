/**
 * Status-change notifications for watched workflows. Changes this process makes are announced at once;
 * changes made by other processes are found by one batched poll while anything is watched (none when idle).
 */
import type { ChangeListener, WorkflowStatus } from "@durably/core"

export class Watcher {
  private readonly listeners = new Map<string, Set<ChangeListener>>()
  private readonly known = new Map<string, string>()
  private timer: NodeJS.Timeout | undefined
  private polling = false
  private closed = false
  private readonly pollMs: number
  private readonly fetch: (ids: string[]) => Promise<ReadonlyArray<readonly [string, string]>>

  constructor(pollMs: number, fetch: (ids: string[]) => Promise<ReadonlyArray<readonly [string, string]>>) {
    this.pollMs = pollMs
    this.fetch = fetch
  }

  watch(id: string, listener: ChangeListener): () => void {
    let set = this.listeners.get(id)
    if (!set) this.listeners.set(id, (set = new Set()))
    set.add(listener)
    this.schedule()
    return () => {
      set.delete(listener)
      if (set.size === 0) {
        this.listeners.delete(id)
        this.known.delete(id)
      }
    }
  }

  /** A change this process made. */
  changed(id: string, status: string): void {
    const set = this.listeners.get(id)
    if (!set) return
    this.known.set(id, status)
    queueMicrotask(() => set.forEach((l) => l(status as WorkflowStatus)))
  }

  close(): void {
    this.closed = true
    clearTimeout(this.timer)
  }

  private schedule() {
    if (this.timer || this.closed) return
    this.timer = setTimeout(() => void this.poll(), this.pollMs)
    this.timer.unref()
  }

  private async poll() {
    this.timer = undefined
    if (this.polling || this.closed || this.listeners.size === 0) return
    this.polling = true
    try {
      for (const [id, status] of await this.fetch([...this.listeners.keys()])) {
        if (this.known.get(id) === status) continue
        const first = !this.known.has(id)
        this.known.set(id, status)
        // The first sighting only records the baseline, unless it is already an end state.
        if (!first || status !== "PENDING") this.listeners.get(id)?.forEach((l) => l(status as WorkflowStatus))
      }
    } catch {
      // The next poll tries again; writes report store trouble where it matters.
    } finally {
      this.polling = false
      if (this.listeners.size > 0) this.schedule()
    }
  }
}
