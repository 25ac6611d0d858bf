/**
 * Ids the engine derives (children, schedule ticks) start with "@", which user-chosen ids may not, so
 * the two can never collide. A derived child id names its parent and the step that started it; since the
 * step number is the last ":" segment, every (parent, step) pair gives a distinct id.
 */
import { InvalidArgument } from "../errors.ts"
import { validateName } from "../workflow.ts"

export const reservedIdPrefix = "@"

/** The id of the child started (or enqueued) by operation `stepId` of workflow `parentId`. */
export const childId = (parentId: string, stepId: number): string => `${reservedIdPrefix}child:${parentId}:${stepId}`

/**
 * The id of schedule `name`'s tick at `instant`: every process that fires the tick derives the same id, so
 * the tick runs once however many try. A backfill of the same instant is the same tick.
 */
export const scheduleTickId = (name: string, instant: number): string =>
  `${reservedIdPrefix}schedule:${name}:${new Date(instant).toISOString()}`

/** The id of a run started by hand (`schedules.trigger`): its own, never a tick's. */
export const scheduleTriggerId = (name: string, unique: string): string =>
  `${reservedIdPrefix}schedule:${name}:trigger:${unique}`

/** A workflow id a user chose: a non-empty name that does not use the engine's reserved form. */
export const validateUserId = (id: unknown, what: string): void => {
  validateName(id, what)
  if ((id as string).startsWith(reservedIdPrefix))
    throw new InvalidArgument({
      reason: `${what} may not start with "${reservedIdPrefix}": ids of that form are derived by the engine (child workflows, schedule ticks, debounced runs); got ${JSON.stringify(id)}`,
    })
}
