/**
 * The one rule for every name, key, id and topic that reaches a store: a string of well-formed Unicode,
 * without NUL, not blank, of at most `maxNameLength` UTF-16 code units. Postgres cannot hold NUL in text and
 * stores a lone surrogate as U+FFFD, so two different ids would become one row; checking here, at the call,
 * makes every store (memory included) behave as Postgres must. Errors echo only a short, escaped prefix of
 * the bad value: a 1 MB id or one with a newline must not flood or forge the log that prints the error.
 */
import { describeValue } from "./echo.ts"
import { InvalidArgument } from "./errors.ts"

export { describeValue, escapeText } from "./echo.ts"

/**
 * Longest name, key or id, in UTF-16 code units: at most 600 UTF-8 bytes, so a unique index entry (limit
 * about 2,700 bytes) holds several, and a NOTIFY payload naming a workflow and a key stays under 8,000 bytes.
 */
export const maxNameLength = 200

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** Whether Postgres can hold this text as it is (no NUL, no lone surrogate). */
export const storableText = (text: string): boolean => !text.includes("\u0000") && !loneSurrogate.test(text)

/** Why a string cannot be a name, or undefined when it can. */
export const nameProblem = (value: unknown, max = maxNameLength): string | undefined => {
  if (typeof value !== "string" || value.trim() === "") return "must be a non-empty string"
  if (value.length > max) return `must be at most ${max} characters (got ${value.length})`
  if (value.includes("\u0000")) return "must not contain the NUL character (U+0000), which Postgres cannot store"
  if (loneSurrogate.test(value))
    return "must be well-formed Unicode (it has a lone surrogate, which Postgres would store as U+FFFD, merging it with other names)"
  return undefined
}

/** Throws InvalidArgument naming `what` unless `value` is a valid name, key, id or topic. */
export const validateName = (value: unknown, what: string, max = maxNameLength): void => {
  const problem = nameProblem(value, max)
  if (problem !== undefined) throw new InvalidArgument({ reason: `${what} ${problem}; got ${describeValue(value)}` })
}

/** Throws InvalidArgument naming `what` unless `value` is a whole number in [min, max]. */
export const validateInteger = (value: unknown, what: string, min: number, max: number): number => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw new InvalidArgument({
      reason: `${what} must be a whole number from ${min} to ${max}; got ${describeValue(value)}`,
    })
  return value
}

/** The largest value of a Postgres `integer` column (queue limits, priorities, counts). */
export const maxInt32 = 2 ** 31 - 1
