/**
 * Durations as users write them: Effect durations ("5 seconds", Duration.minutes(5)), duration objects
 * ({ minutes: 5 }) or milliseconds. One rule for all of them: finite, not negative, at most `maxDurationMs`,
 * and rounded up to whole milliseconds (the store keeps instants as integer milliseconds; rounding up never
 * wakes anything early). A duration object with a key Effect does not know (`{ secnds: 5 }`) is refused
 * rather than read as 0.
 */
import { Duration, Option } from "effect"
import { InvalidArgument } from "./errors.ts"
import { describeValue, escapeText } from "./validation.ts"

export type DurationInput = Duration.Input

/**
 * The longest duration accepted: 100 years. Every instant the engine records is now plus a duration, so
 * this keeps them all exact in a double, inside a JavaScript Date (±8.64e15 ms) and far inside a bigint column.
 */
export const maxDurationMs = 100 * 365.25 * 24 * 60 * 60 * 1000

/** The latest instant (epoch milliseconds) a JavaScript Date can hold; `sleepUntil` accepts up to it. */
export const maxInstantMs = 8.64e15

const objectKeys = new Set([
  "weeks",
  "days",
  "hours",
  "minutes",
  "seconds",
  "milliseconds",
  "microseconds",
  "nanoseconds",
])

const example = `a duration such as "5 seconds", Duration.minutes(5), { minutes: 5 } or a number of milliseconds`

/** Milliseconds of a user-given duration, as a whole number; throws InvalidArgument naming `what` for anything else. */
export const toMillis = (input: DurationInput, what: string): number => {
  const bad = (why: string) => new InvalidArgument({ reason: `${what} must be ${why}; got ${describeInput(input)}` })
  if (typeof input === "number" && !Number.isFinite(input)) throw bad("a finite, non-negative duration")
  if (typeof input === "object" && input !== null && !Duration.isDuration(input) && !Array.isArray(input)) {
    for (const [key, value] of Object.entries(input))
      if (!objectKeys.has(key)) throw bad(`${example} (unknown key ${describeValue(key)})`)
      else if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value)))
        throw bad(`${example} (${key} is not a finite number)`)
  }
  let decoded: Option.Option<Duration.Duration>
  try {
    decoded = Duration.fromInput(input)
  } catch {
    decoded = Option.none()
  }
  if (Option.isNone(decoded)) throw bad(example)
  const ms = Duration.toMillis(decoded.value)
  if (Number.isNaN(ms) || ms < 0) throw bad("a finite, non-negative duration")
  if (!(ms <= maxDurationMs)) throw bad(`at most 100 years (${maxDurationMs} ms)`)
  return Math.ceil(ms)
}

/** An instant given as a Date or epoch milliseconds, as whole milliseconds; throws InvalidArgument naming `what`. */
export const toInstant = (input: unknown, what: string): number => {
  const at = input instanceof Date ? input.getTime() : input
  if (typeof at !== "number" || !Number.isFinite(at) || Math.abs(at) > maxInstantMs)
    throw new InvalidArgument({
      reason: `${what} needs a valid Date or epoch milliseconds; got ${input instanceof Date ? "an invalid Date" : describeValue(input)}`,
    })
  return Math.ceil(at)
}

/**
 * `setTimeout` for any delay: Node fires a timer above 2^31−1 ms (about 24.8 days) at once, so longer delays
 * are chained. Returns the function that cancels it.
 */
export const longTimeout = (fn: () => void, ms: number): (() => void) => {
  const maxTimer = 2 ** 31 - 1
  let timer: NodeJS.Timeout | undefined
  const arm = (remaining: number) => {
    timer = setTimeout(() => (remaining > maxTimer ? arm(remaining - maxTimer) : fn()), Math.min(remaining, maxTimer))
  }
  arm(Math.max(0, ms))
  return () => clearTimeout(timer)
}

const describeInput = (v: unknown): string => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return describeValue(v)
  if (Duration.isDuration(v)) return String(Duration.toMillis(v)) + " ms"
  try {
    const text = JSON.stringify(v)
    return escapeText(text.length > 80 ? `${text.slice(0, 80)}…` : text)
  } catch {
    return "an object"
  }
}
