/**
 * Schedule definitions: `defineSchedule` (exported by `@durably/scheduler`) and the options `schedules.create`
 * takes, validated the same way wherever a schedule is made, so a bad cron or zone fails at the call.
 */
import { InvalidArgument } from "../errors.ts"
import { queueName, type QueueRef } from "../queues.ts"
import type { CatchUp } from "../store/scheduleTypes.ts"
import { describeValue } from "../validation.ts"
import { isWorkflowDefinition, validateName, type AnyWorkflow } from "../workflow.ts"
import { parseCron, type Cron } from "./cron.ts"

/** What a scheduled workflow receives: the tick's instant, when its run was started, and the schedule's `input`. */
export interface ScheduledRun<I = undefined> {
  readonly scheduledAt: Date
  readonly startedAt: Date
  readonly input: I
}

export interface ScheduleOptions<W extends AnyWorkflow = AnyWorkflow> {
  /** 5 fields (`"0 2 * * *"`), 6 with seconds first (`"*\/5 * * * * *"`), or a macro such as `"@hourly"`. */
  readonly cron: string
  /** IANA zone the cron is read in, e.g. "Europe/Paris". Default "UTC". */
  readonly timezone?: string
  /** The workflow each tick starts (by definition, or by name for `schedules.create` from a process without its code). */
  readonly workflow: W | string
  /** After ticks were missed (no process ran the schedule then): skip them ("none", default), run the most recent ("latest"), or all ("all"). */
  readonly catchUp?: CatchUp
  /** With catchUp "all": at most this many (the most recent). Default 100. */
  readonly maxCatchUp?: number
  /** Enqueue each tick on this queue (its limits apply) instead of starting it on the process that fires it. */
  readonly queue?: QueueRef
  /** Passed to every tick as `input`. */
  readonly input?: unknown
}

export interface ScheduleDefinition {
  readonly _tag: "ScheduleDefinition"
  readonly name: string
  readonly cron: Cron
  readonly workflowName: string
  readonly catchUp: CatchUp
  readonly maxCatchUp: number
  readonly queue?: string
  readonly hasInput: boolean
  readonly input?: unknown
}

export const isScheduleDefinition = (u: unknown): u is ScheduleDefinition =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "ScheduleDefinition"

const catchUps: ReadonlySet<unknown> = new Set(["none", "latest", "all"])

export const validateCatchUp = (catchUp: unknown, where: string): CatchUp => {
  if (!catchUps.has(catchUp))
    throw new InvalidArgument({
      reason: `${where}: catchUp must be "none", "latest" or "all"; got ${describeValue(catchUp)}`,
    })
  return catchUp as CatchUp
}

export const validateMaxCatchUp = (max: unknown, where: string): number => {
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > 100_000)
    throw new InvalidArgument({
      reason: `${where}: maxCatchUp must be a whole number from 1 to 100000; got ${describeValue(max)}`,
    })
  return max
}

export const workflowNameOf = (workflow: unknown, where: string): string => {
  if (isWorkflowDefinition(workflow)) return workflow.name
  if (typeof workflow === "string") {
    validateName(workflow, `${where}: workflow`)
    return workflow
  }
  throw new InvalidArgument({ reason: `${where}: workflow must be a definition made by defineWorkflow, or its name` })
}

const known = new Set(["cron", "timezone", "workflow", "catchUp", "maxCatchUp", "queue", "input"])

/** Validate a schedule's name and options (throws InvalidArgument naming the bad field). */
export const scheduleDefinition = <W extends AnyWorkflow>(
  name: string,
  options: ScheduleOptions<W>,
): ScheduleDefinition => {
  validateName(name, "schedule name")
  const where = `schedule ${describeValue(name)}`
  if (typeof options !== "object" || options === null)
    throw new InvalidArgument({ reason: `${where}: options must be an object with at least cron and workflow` })
  for (const key of Object.keys(options))
    if (!known.has(key))
      throw new InvalidArgument({
        reason: `${where}: unknown option ${describeValue(key)} (known: ${[...known].join(", ")})`,
      })
  return Object.freeze({
    _tag: "ScheduleDefinition" as const,
    name,
    // null is refused, as for any option of the wrong type: only a missing timezone means UTC.
    cron: parseCron(options.cron, options.timezone === undefined ? "UTC" : options.timezone, where),
    workflowName: workflowNameOf(options.workflow, where),
    catchUp: validateCatchUp(options.catchUp ?? "none", where),
    maxCatchUp: validateMaxCatchUp(options.maxCatchUp ?? 100, where),
    ...(options.queue === undefined ? {} : { queue: queueName(options.queue, `${where}: queue`) }),
    hasInput: "input" in options && options.input !== undefined,
    ...(options.input === undefined ? {} : { input: options.input }),
  })
}
