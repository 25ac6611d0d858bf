/**
 * A clock that only moves when told to. Engine timers (sleeps, step timeouts, retry delays, workflow
 * deadlines) all go through Effect's Clock, so under this one they fire when the test advances time.
 */
import { Clock, Duration, Effect } from "effect"

interface Timer {
  readonly at: number
  readonly order: number
  readonly fire: () => void
}

export class VirtualClock implements Clock.Clock {
  private nowMs: number
  private timers: Timer[] = []
  private order = 0

  constructor(start: number = Date.UTC(2026, 0, 1)) {
    this.nowMs = start
  }

  currentTimeMillisUnsafe(): number {
    return this.nowMs
  }
  readonly currentTimeMillis = Effect.sync(() => this.nowMs)
  currentTimeNanosUnsafe(): bigint {
    return BigInt(this.nowMs) * 1_000_000n
  }
  readonly currentTimeNanos = Effect.sync(() => this.currentTimeNanosUnsafe())
  monotonicTimeNanosUnsafe(): bigint {
    return this.currentTimeNanosUnsafe()
  }
  readonly monotonicTimeNanos = Effect.sync(() => this.currentTimeNanosUnsafe())

  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const ms = Duration.toMillis(duration)
      const timer: Timer = {
        at: this.nowMs + (Number.isFinite(ms) ? ms : Infinity),
        order: this.order++,
        fire: () => resume(Effect.void),
      }
      if (ms <= 0) return timer.fire()
      this.timers.push(timer)
      return Effect.sync(() => {
        this.timers = this.timers.filter((t) => t !== timer)
      })
    })
  }

  /** The earliest pending timer's instant, if any. */
  nextTimer(): number | undefined {
    let next: number | undefined
    for (const t of this.timers) if (next === undefined || t.at < next) next = t.at
    return next
  }

  /** Move to `at` (never backwards) and fire the timers due by then, earliest first; returns how many fired. */
  fireDue(at: number): number {
    this.nowMs = Math.max(this.nowMs, at)
    const due = this.timers.filter((t) => t.at <= this.nowMs).sort((a, b) => a.at - b.at || a.order - b.order)
    this.timers = this.timers.filter((t) => t.at > this.nowMs)
    for (const t of due) t.fire()
    return due.length
  }
}
