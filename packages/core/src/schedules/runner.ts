/**
 * The schedule runner of one engine: one timer for the next due tick of all schedules, never a loop per
 * schedule. A pass lists the schedules (one query), runs the ticks that are due (plan.ts), records each
 * schedule's progress, and arms the timer for the earliest next tick. A change to the schedules anywhere
 * (create, update, pause, delete, a launch storing its code schedules) wakes every runner for a new pass;
 * a tick's progress wakes nobody, so an idle process sends no schedule statements between ticks.
 */
import type { LogSink } from "../engine/log.ts"
import type { ScheduleRecord, Store } from "../store/Store.ts"
import { nextTick } from "./cron.ts"
import { planTicks } from "./plan.ts"

export interface ScheduleHost {
  readonly store: Store
  readonly call: <A>(effect: import("effect").Effect.Effect<A, unknown>) => Promise<A>
  readonly log: LogSink
  /** Engine-clock time, and a sleep on that clock (virtual under the test kit); rejects when `signal` aborts. */
  readonly now: () => number
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>
  /** Whether this process has the workflow's code: only such processes fire its schedules. */
  readonly canRun: (workflowName: string) => boolean
  /** Start (or attach to) the run of each tick, oldest first. */
  readonly fire: (schedule: ScheduleRecord, ticks: ReadonlyArray<number>) => Promise<void>
}

export interface ScheduleRunner {
  /** Look at the schedules again now (they changed). */
  readonly wake: () => void
  /** Stop; resolves when no pass is running. */
  readonly stop: () => Promise<void>
}

/** Longest the timer sleeps: a far tick is re-planned now and then rather than trusted to one long timer. */
const maxSleepMs = 60 * 60_000
const retryFirstMs = 1000
const retryMaxMs = 60_000

export const startScheduleRunner = (host: ScheduleHost): ScheduleRunner => {
  const stopping = new AbortController()
  let timer: AbortController | undefined
  let passing: Promise<void> | undefined
  let again = false
  let failures = 0

  const arm = (at: number) => {
    timer?.abort()
    if (stopping.signal.aborted) return
    const mine = new AbortController()
    timer = mine
    const ms = Math.min(maxSleepMs, Math.max(1, at - host.now()))
    host.sleep(ms, AbortSignal.any([mine.signal, stopping.signal])).then(
      () => {
        if (timer === mine) wake()
      },
      () => undefined,
    )
  }

  const runDue = async (s: ScheduleRecord, now: number): Promise<number> => {
    const plan = planTicks(s, now)
    if (plan.through === undefined) return s.lastTick
    if (plan.run.length > 0) await host.fire(s, plan.run)
    await host.call(host.store.advanceSchedule(s.name, plan.through))
    return plan.through
  }

  const pass = async () => {
    const schedules = await host.call(host.store.listSchedules())
    let earliest = Infinity
    for (const s of schedules) {
      if (s.paused || !host.canRun(s.workflowName) || stopping.signal.aborted) continue
      const now = host.now()
      let last = s.lastTick
      try {
        last = await runDue(s, now)
      } catch (e) {
        host.log({
          level: "error",
          message: `schedule ${JSON.stringify(s.name)}: starting its tick failed (${String(e)}); trying again soon`,
        })
        earliest = Math.min(earliest, now + retryFirstMs)
        continue
      }
      const next = nextTick({ cron: s.cron, timezone: s.timezone }, Math.max(last, now))
      if (next !== undefined) earliest = Math.min(earliest, next)
    }
    failures = 0
    if (earliest < Infinity) arm(earliest)
    else timer?.abort()
  }

  const wake = () => {
    if (stopping.signal.aborted) return
    if (passing) {
      again = true
      return
    }
    again = false
    passing = pass()
      .catch((e: unknown) => {
        failures++
        const delay = Math.min(retryMaxMs, retryFirstMs * 2 ** (failures - 1))
        host.log({
          level: failures === 1 ? "warn" : "error",
          message: `schedules: reading them failed (${String(e)}); trying again in ${delay} ms`,
        })
        arm(host.now() + delay)
      })
      .finally(() => {
        passing = undefined
        if (again) wake()
      })
  }

  const unsubscribe = host.store.subscribe({ kind: "schedules" }, wake)
  wake()

  return {
    wake,
    stop: async () => {
      stopping.abort()
      unsubscribe()
      timer?.abort()
      await passing
    },
  }
}
