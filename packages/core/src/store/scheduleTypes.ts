/**
 * Schedules as the Store port keeps them: one row per schedule, defined in code (stored by every launch that
 * has it) or created at runtime (`durably.schedules.create`). The store only keeps them; what a cron means
 * and when a tick is due is the engine's (schedules/), so the same rows behave alike on every store.
 */
import type { Effect } from "effect"
import type { StoreError } from "../errors.ts"

/** What a schedule does after ticks were missed (no process was running it when they were due). */
export type CatchUp = "none" | "latest" | "all"

/** A schedule's definition: what the store keeps besides its state. */
export interface ScheduleSpec {
  readonly name: string
  /** The workflow each tick starts, by name. */
  readonly workflowName: string
  /** 5 fields, or 6 with seconds first; macros such as `@hourly`. */
  readonly cron: string
  /** IANA time zone the cron is read in. */
  readonly timezone: string
  readonly catchUp: CatchUp
  /** With `catchUp: "all"`: at most this many missed ticks are run (the most recent ones). */
  readonly maxCatchUp: number
  /** Ticks are enqueued on this queue instead of started on the process that fires them. */
  readonly queue?: string
  /** Serialized `input` given to every tick's workflow. */
  readonly input?: string
}

/** Where a schedule comes from: a `defineSchedule` passed to a launch, or `schedules.create`. */
export type ScheduleOrigin = "code" | "runtime"

export interface ScheduleRecord extends ScheduleSpec {
  readonly origin: ScheduleOrigin
  readonly paused: boolean
  /** Every tick up to this instant has been run or deliberately skipped. */
  readonly lastTick: number
  readonly createdAt: number
  readonly updatedAt: number
}

export type PutScheduleResult =
  | { readonly _tag: "Created"; readonly record: ScheduleRecord }
  /** `code`: the definition replaced this one (paused and lastTick were kept). */
  | { readonly _tag: "Replaced"; readonly record: ScheduleRecord; readonly previous: ScheduleRecord }
  /** `runtime`: a schedule of that name exists; nothing changed. */
  | { readonly _tag: "Exists"; readonly existing: ScheduleRecord }

/** The fields `updateSchedule` may change; absent ones stay. `queue`/`input` null clears them. */
export interface SchedulePatch {
  readonly workflowName?: string
  readonly cron?: string
  readonly timezone?: string
  readonly catchUp?: CatchUp
  readonly maxCatchUp?: number
  readonly queue?: string | null
  readonly input?: string | null
  readonly paused?: boolean
  readonly lastTick?: number
}

/** The schedule operations of the Store port. Definition changes (not tick progress) wake `{ kind: "schedules" }`. */
export interface ScheduleStore {
  /**
   * Store a schedule. `code`: insert, or replace the definition of the one with that name, keeping its
   * `paused` and `lastTick` (a launch re-stores its code schedules). `runtime`: insert only; an existing
   * one is returned as `Exists`. A new schedule's `lastTick` is `now`: ticks before it never run.
   */
  readonly putSchedule: (spec: ScheduleSpec, origin: ScheduleOrigin) => Effect.Effect<PutScheduleResult, StoreError>
  readonly getSchedule: (name: string) => Effect.Effect<ScheduleRecord | undefined, StoreError>
  /** Every schedule, by name. */
  readonly listSchedules: () => Effect.Effect<ReadonlyArray<ScheduleRecord>, StoreError>
  /** Change a schedule; the record as it now is, or undefined when there is none. */
  readonly updateSchedule: (name: string, patch: SchedulePatch) => Effect.Effect<ScheduleRecord | undefined, StoreError>
  /** Remove a schedule; false when there was none. Its ticks already started are not touched. */
  readonly deleteSchedule: (name: string) => Effect.Effect<boolean, StoreError>
  /** Record that every tick up to `tick` was handled (never moves back). Wakes nobody. */
  readonly advanceSchedule: (name: string, tick: number) => Effect.Effect<void, StoreError>
}
