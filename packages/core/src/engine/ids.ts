/**
 * Ids the engine derives (children, later schedule ticks) start with "@", which user-chosen ids may not, so
 * the two can never collide. A derived child id names its parent and the step that started it; since the
 * step number is the last ":" segment, every (parent, step) pair gives a distinct id.
 */
import { InvalidArgument } from "../errors.ts"
import { validateName } from "../workflow.ts"

export const reservedIdPrefix = "@"

/** The id of the child started (or enqueued) by operation `stepId` of workflow `parentId`. */
export const childId = (parentId: string, stepId: number): string => `${reservedIdPrefix}child:${parentId}:${stepId}`

/** A workflow id a user chose: a non-empty name that does not use the engine's reserved form. */
export const validateUserId = (id: unknown, what: string): void => {
  validateName(id, what)
  if ((id as string).startsWith(reservedIdPrefix))
    throw new InvalidArgument({
      reason: `${what} may not start with "${reservedIdPrefix}": ids of that form are derived by the engine (child workflows); got ${JSON.stringify(id)}`,
    })
}
