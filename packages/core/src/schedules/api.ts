/**
 * `durably.schedules`: schedules stored in the database, managed while everything runs. Defined once here
 * and served by the Promise engine, the test kit and (wrapped) the Effect service. Schedules from code
 * (`defineSchedule`, passed to a launch) are stored by each launch and show up here too.
 *
 * One namespace: `create` refuses a name any schedule has (ScheduleExists); a launch whose code defines a
 * schedule that was created at runtime takes it over (code wins) and logs a warning.
 */
import type { Effect } from "effect"
import { InvalidArgument, ScheduleExists, ScheduleNotFound } from "../errors.ts"
import type { WorkflowHandle } from "../engine/handle.ts"
import { queueName } from "../queues.ts"
import type { Serializer } from "../serialization/Serializer.ts"
import type { CatchUp, ScheduleOrigin, SchedulePatch, ScheduleRecord, ScheduleSpec, Store } from "../store/Store.ts"
import { describeValue } from "../validation.ts"
import { validateName } from "../workflow.ts"
import { nextTick, parseCron, ticksBetween } from "./cron.ts"
import {
  scheduleDefinition,
  validateCatchUp,
  validateMaxCatchUp,
  workflowNameOf,
  type ScheduleDefinition,
  type ScheduleOptions,
} from "./define.ts"

/** A schedule as `schedules.list/get` show it. */
export interface ScheduleInfo {
  readonly name: string
  readonly workflow: string
  readonly cron: string
  readonly timezone: string
  readonly catchUp: CatchUp
  readonly maxCatchUp: number
  readonly queue?: string
  readonly input?: unknown
  readonly paused: boolean
  /** "code": stored by a launch from `defineSchedule`; "runtime": made with `schedules.create`. */
  readonly origin: ScheduleOrigin
  /** Every tick up to here has run or was skipped. */
  readonly lastTick: Date
  /** The next tick due (undefined when paused or the cron never fires again). */
  readonly nextTick?: Date
  readonly createdAt: Date
  readonly updatedAt: Date
}

/** What `schedules.update` may change; `queue: null` / `input: null` remove them. */
export interface ScheduleUpdate {
  readonly cron?: string
  readonly timezone?: string
  readonly workflow?: ScheduleOptions["workflow"]
  readonly catchUp?: CatchUp
  readonly maxCatchUp?: number
  readonly queue?: ScheduleOptions["queue"] | null
  readonly input?: unknown
}

export interface Schedules {
  /** Store a new schedule; every process with its workflow's code starts firing it. Rejects with ScheduleExists. */
  readonly create: (name: string, options: ScheduleOptions) => Promise<ScheduleInfo>
  readonly list: () => Promise<ReadonlyArray<ScheduleInfo>>
  /** Undefined when there is none. */
  readonly get: (name: string) => Promise<ScheduleInfo | undefined>
  /** Change some of a schedule's settings (ScheduleNotFound when there is none). Ticks already run stay. */
  readonly update: (name: string, changes: ScheduleUpdate) => Promise<ScheduleInfo>
  /** No tick runs while paused. */
  readonly pause: (name: string) => Promise<ScheduleInfo>
  /** Ticks due while it was paused are skipped; the next one runs. */
  readonly resume: (name: string) => Promise<ScheduleInfo>
  /** Remove it; runs already started are not touched. A launch whose code defines it stores it again. */
  readonly delete: (name: string) => Promise<void>
  /** Run the schedule's workflow once now (its own run, not a tick), paused or not; its handle. */
  readonly trigger: (name: string) => Promise<WorkflowHandle>
  /**
   * Run the ticks of [from, to] (both included), each exactly once: a tick that already ran (or runs) is
   * attached to, not run again. At most 10000 ticks. Their handles, oldest first.
   */
  readonly backfill: (name: string, from: Date, to: Date) => Promise<ReadonlyArray<WorkflowHandle>>
}

export interface SchedulesHost {
  readonly store: Store
  readonly call: <A>(effect: Effect.Effect<A, unknown>) => Promise<A>
  readonly serializer: Serializer
  readonly encodeInput: EncodeScheduleInput
  readonly now: () => number
  /** Start (or attach to) a run of the schedule with this id and tick instant; its handle. */
  readonly run: (schedule: ScheduleRecord, scheduledAt: number, id: string) => Promise<WorkflowHandle>
  /** The id of a run started by hand. */
  readonly triggerId: (schedule: ScheduleRecord) => string
  readonly tickId: (schedule: ScheduleRecord, instant: number) => string
}

const maxBackfill = 10_000

/** A schedule's input as stored: through the engine's serializer, under the payload limit like any input. */
export type EncodeScheduleInput = (input: unknown, schedule: string, workflowName: string) => string

/** What the store keeps of a definition. */
export const specOf = (d: ScheduleDefinition, encodeInput: EncodeScheduleInput): ScheduleSpec => ({
  name: d.name,
  workflowName: d.workflowName,
  cron: d.cron.cron,
  timezone: d.cron.timezone,
  catchUp: d.catchUp,
  maxCatchUp: d.maxCatchUp,
  ...(d.queue === undefined ? {} : { queue: d.queue }),
  ...(d.hasInput ? { input: encodeInput(d.input, d.name, d.workflowName) } : {}),
})

export const scheduleInfo = (r: ScheduleRecord, serializer: Serializer): ScheduleInfo => {
  const next = r.paused ? undefined : nextTick(r, r.lastTick)
  return {
    name: r.name,
    workflow: r.workflowName,
    cron: r.cron,
    timezone: r.timezone,
    catchUp: r.catchUp,
    maxCatchUp: r.maxCatchUp,
    ...(r.queue === undefined ? {} : { queue: r.queue }),
    ...(r.input === undefined ? {} : { input: serializer.decode(r.input) }),
    paused: r.paused,
    origin: r.origin,
    lastTick: new Date(r.lastTick),
    ...(next === undefined ? {} : { nextTick: new Date(next) }),
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
  }
}

const knownUpdates = new Set(["cron", "timezone", "workflow", "catchUp", "maxCatchUp", "queue", "input"])

const dateOf = (d: unknown, what: string): number => {
  const t = d instanceof Date ? d.getTime() : NaN
  if (!Number.isFinite(t))
    throw new InvalidArgument({ reason: `${what} must be a valid Date; got ${describeValue(d)}` })
  return t
}

export const makeSchedules = (host: SchedulesHost): Schedules => {
  const info = (r: ScheduleRecord) => scheduleInfo(r, host.serializer)
  const existing = async (name: string): Promise<ScheduleRecord> => {
    validateName(name, "schedule name")
    const r = await host.call(host.store.getSchedule(name))
    if (!r) throw new ScheduleNotFound({ name })
    return r
  }
  const patch = async (name: string, p: SchedulePatch) => {
    validateName(name, "schedule name")
    const r = await host.call(host.store.updateSchedule(name, p))
    if (!r) throw new ScheduleNotFound({ name })
    return info(r)
  }
  return {
    create: async (name, options) => {
      const spec = specOf(scheduleDefinition(name, options), host.encodeInput)
      const put = await host.call(host.store.putSchedule(spec, "runtime"))
      if (put._tag === "Exists") throw new ScheduleExists({ name, origin: put.existing.origin })
      return info(put.record)
    },
    list: async () => (await host.call(host.store.listSchedules())).map(info),
    get: async (name) => {
      validateName(name, "schedule name")
      const r = await host.call(host.store.getSchedule(name))
      return r && info(r)
    },
    update: async (name, changes) => {
      validateName(name, "schedule name")
      const where = `schedule ${describeValue(name)}`
      if (typeof changes !== "object" || changes === null)
        throw new InvalidArgument({ reason: `${where}: changes must be an object` })
      for (const key of Object.keys(changes))
        if (!knownUpdates.has(key))
          throw new InvalidArgument({
            reason: `${where}: cannot update ${describeValue(key)} (known: ${[...knownUpdates].join(", ")})`,
          })
      const current = await existing(name)
      const cron =
        changes.cron === undefined && changes.timezone === undefined
          ? undefined
          : // Only a missing field keeps its value: null is not a cron or a zone (only queue and input take null).
            parseCron(
              changes.cron === undefined ? current.cron : changes.cron,
              changes.timezone === undefined ? current.timezone : changes.timezone,
              where,
            )
      return patch(name, {
        ...(cron ? { cron: cron.cron, timezone: cron.timezone } : {}),
        ...(changes.workflow === undefined ? {} : { workflowName: workflowNameOf(changes.workflow, where) }),
        ...(changes.catchUp === undefined ? {} : { catchUp: validateCatchUp(changes.catchUp, where) }),
        ...(changes.maxCatchUp === undefined ? {} : { maxCatchUp: validateMaxCatchUp(changes.maxCatchUp, where) }),
        ...(changes.queue === undefined
          ? {}
          : { queue: changes.queue === null ? null : queueName(changes.queue, `${where}: queue`) }),
        ...(!("input" in changes)
          ? {}
          : {
              input:
                changes.input === undefined || changes.input === null
                  ? null
                  : host.encodeInput(changes.input, name, current.workflowName),
            }),
      })
    },
    pause: (name) => patch(name, { paused: true }),
    // Ticks of the pause are not missed ones to catch up on: progress moves to now.
    resume: (name) => patch(name, { paused: false, lastTick: host.now() }),
    delete: async (name) => {
      validateName(name, "schedule name")
      if (!(await host.call(host.store.deleteSchedule(name)))) throw new ScheduleNotFound({ name })
    },
    trigger: async (name) => {
      const s = await existing(name)
      return host.run(s, host.now(), host.triggerId(s))
    },
    backfill: async (name, from, to) => {
      const s = await existing(name)
      const start = dateOf(from, "backfill: from")
      const end = dateOf(to, "backfill: to")
      if (end < start) throw new InvalidArgument({ reason: "backfill: `to` must not be before `from`" })
      const ticks = ticksBetween(s, start - 1, end, maxBackfill + 1)
      if (ticks.length > maxBackfill)
        throw new InvalidArgument({
          reason: `backfill: ${describeValue(name)} has more than ${maxBackfill} ticks between ${new Date(start).toISOString()} and ${new Date(end).toISOString()}; backfill a shorter range at a time`,
        })
      const handles: WorkflowHandle[] = []
      for (const t of ticks) handles.push(await host.run(s, t, host.tickId(s, t)))
      return handles
    },
  }
}
