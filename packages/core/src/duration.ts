/** Durations as users write them: Effect durations ("5 seconds", Duration.minutes(5)) or milliseconds. */
import { Duration, Option } from "effect"
import { InvalidArgument } from "./errors.ts"

export type DurationInput = Duration.Input

/** Milliseconds of a user-given duration; throws InvalidArgument naming `what` for anything else. */
export const toMillis = (input: DurationInput, what: string): number => {
  const decoded = typeof input === "number" && !Number.isFinite(input) ? Option.none() : Duration.fromInput(input)
  if (Option.isNone(decoded))
    throw new InvalidArgument({
      reason: `${what} must be a duration such as "5 seconds", Duration.minutes(5) or a number of milliseconds; got ${describe(input)}`,
    })
  const ms = Duration.toMillis(decoded.value)
  if (!(ms >= 0) || !Number.isFinite(ms))
    throw new InvalidArgument({ reason: `${what} must be a finite, non-negative duration; got ${describe(input)}` })
  return ms
}

const describe = (v: unknown): string => {
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v)
  try {
    return JSON.stringify(v) ?? typeof v
  } catch {
    return typeof v
  }
}
