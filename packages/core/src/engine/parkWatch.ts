/**
 * When a wait has lasted long enough to park (parking.ts): one queue and one timer for every waiting
 * execution, instead of a timer each. Every wait gets the same delay, so the queue is in due order as it is
 * appended to; a wait that ends early is marked and skipped when its turn comes (it stays at most one delay).
 * The timer runs on the engine's clock, so the test kit's virtual time drives it.
 */
import { Effect } from "effect"
import type { Host } from "./Host.ts"

interface Watched {
  readonly due: number
  readonly onDue: () => void
  ended: boolean
}

export class ParkWatch {
  private queue: Watched[] = []
  private head = 0
  private timer: AbortController | undefined
  private readonly host: Host
  private readonly delayMs: number | undefined

  constructor(host: Host, delayMs: number | undefined) {
    this.host = host
    this.delayMs = delayMs
  }

  /** A wait begins: `onDue` runs once it has lasted the delay, unless the returned function ended it first. */
  watch(onDue: () => void): (() => void) | undefined {
    if (this.delayMs === undefined) return undefined
    const w: Watched = { due: this.host.clock.currentTimeMillisUnsafe() + this.delayMs, onDue, ended: false }
    this.queue.push(w)
    if (!this.timer) this.arm()
    return () => void (w.ended = true)
  }

  /** Stop watching every wait (the engine stops). */
  clear(): void {
    this.queue = []
    this.head = 0
    this.timer?.abort()
    this.timer = undefined
  }

  private arm(): void {
    const first = this.queue[this.head]
    if (!first) return
    const timer = new AbortController()
    this.timer = timer
    const remaining = Math.max(0, first.due - this.host.clock.currentTimeMillisUnsafe())
    this.host.runEffect(Effect.sleep(remaining), timer.signal).then(
      () => {
        if (this.timer !== timer) return
        this.timer = undefined
        const now = this.host.clock.currentTimeMillisUnsafe()
        const due: Watched[] = []
        while (this.head < this.queue.length && this.queue[this.head]!.due <= now) due.push(this.queue[this.head++]!)
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head)
          this.head = 0
        }
        for (const w of due)
          if (!w.ended)
            try {
              w.onDue()
            } catch (e) {
              this.host.log({ level: "warn", message: `could not park a waiting workflow: ${String(e)}` })
            }
        if (!this.timer) this.arm()
      },
      () => undefined,
    )
  }
}
