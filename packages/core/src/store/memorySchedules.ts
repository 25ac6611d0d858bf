/** Schedules in the in-memory store, with the SQL stores' semantics (see scheduleTypes.ts). */
import { Clock, Effect } from "effect"
import type { ScheduleRecord, ScheduleSpec, ScheduleStore } from "./scheduleTypes.ts"
import type { Wake } from "./Store.ts"

/** Keep only the spec's fields that are set, so absent and cleared look the same as on SQL. */
const specOf = (spec: ScheduleSpec): ScheduleSpec => ({
  name: spec.name,
  workflowName: spec.workflowName,
  cron: spec.cron,
  timezone: spec.timezone,
  catchUp: spec.catchUp,
  maxCatchUp: spec.maxCatchUp,
  ...(spec.queue === undefined ? {} : { queue: spec.queue }),
  ...(spec.input === undefined ? {} : { input: spec.input }),
})

export const memorySchedules = (wake: (w: Wake) => void): ScheduleStore => {
  const rows = new Map<string, ScheduleRecord>()
  const changed = () => wake({ kind: "schedules" })
  return {
    putSchedule: (spec, origin) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const previous = rows.get(spec.name)
        if (previous && origin === "runtime") return { _tag: "Exists" as const, existing: previous }
        const record: ScheduleRecord = {
          ...specOf(spec),
          origin,
          paused: previous?.paused ?? false,
          lastTick: previous?.lastTick ?? now,
          createdAt: previous?.createdAt ?? now,
          updatedAt: now,
        }
        rows.set(spec.name, record)
        changed()
        return previous ? { _tag: "Replaced" as const, record, previous } : { _tag: "Created" as const, record }
      }),
    getSchedule: (name) => Effect.sync(() => rows.get(name)),
    listSchedules: () => Effect.sync(() => [...rows.values()].sort((a, b) => (a.name < b.name ? -1 : 1))),
    updateSchedule: (name, patch) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const previous = rows.get(name)
        if (!previous) return undefined
        const { queue, input, ...rest } = patch
        const merged = { ...previous, ...rest, updatedAt: now } as ScheduleRecord & { queue?: string; input?: string }
        if (queue === null) delete merged.queue
        else if (queue !== undefined) merged.queue = queue
        if (input === null) delete merged.input
        else if (input !== undefined) merged.input = input
        rows.set(name, merged)
        changed()
        return merged
      }),
    deleteSchedule: (name) =>
      Effect.sync(() => {
        const had = rows.delete(name)
        if (had) changed()
        return had
      }),
    advanceSchedule: (name, tick) =>
      Effect.sync(() => {
        const row = rows.get(name)
        if (row && tick > row.lastTick) rows.set(name, { ...row, lastTick: tick })
      }),
  }
}
