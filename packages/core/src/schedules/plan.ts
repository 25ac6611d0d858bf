/**
 * Which ticks a schedule runs when a process looks at it: the ticks due since its `lastTick` that are at
 * most `lateness` late run (a loaded or restarting process is late, not absent); older ones were missed —
 * no process ran the schedule when they were due — and `catchUp` decides about them. Every process plans
 * alike, and a tick's workflow id is derived from its instant, so a tick planned by several runs once.
 */
import type { ScheduleRecord } from "../store/scheduleTypes.ts"
import { latestTicks, ticksBetween } from "./cron.ts"

/** How late a tick may be and still count as on time rather than missed. */
export const lateness = 60_000

/** Most on-time ticks taken in one look (a per-second schedule has 60 in the lateness window). */
const onTimeLimit = 1000

export interface TickPlan {
  /** Ticks to run, oldest first. */
  readonly run: ReadonlyArray<number>
  /** The newest tick due by now (run or skipped): the schedule's lastTick once `run` has started. */
  readonly through: number | undefined
}

export const planTicks = (s: ScheduleRecord, now: number): TickPlan => {
  const cron = { cron: s.cron, timezone: s.timezone }
  const through = latestTicks(cron, s.lastTick, now, 1)[0]
  if (through === undefined) return { run: [], through }
  const missedUntil = now - lateness
  const missed =
    missedUntil <= s.lastTick || s.catchUp === "none"
      ? []
      : latestTicks(cron, s.lastTick, missedUntil, s.catchUp === "latest" ? 1 : s.maxCatchUp).reverse()
  const onTime = ticksBetween(cron, Math.max(s.lastTick, missedUntil), now, onTimeLimit)
  return { run: [...missed, ...onTime], through }
}
