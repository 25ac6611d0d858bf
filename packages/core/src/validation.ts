/**
 * The one rule for every name, key, id and topic that reaches a store: a string of well-formed Unicode,
 * without NUL, not blank, of at most `maxNameLength` UTF-16 code units. Postgres cannot hold NUL in text and
 * stores a lone surrogate as U+FFFD, so two different ids would become one row; checking here, at the call,
 * makes every store (memory included) behave as Postgres must. Errors echo only a short, escaped prefix of
 * the bad value: a 1 MB id or one with a newline must not flood or forge the log that prints the error.
 */
import { InvalidArgument } from "./errors.ts"

/**
 * Longest name, key or id, in UTF-16 code units: at most 600 UTF-8 bytes, so a unique index entry (limit
 * about 2,700 bytes) holds several, and a NOTIFY payload naming a workflow and a key stays under 8,000 bytes.
 */
export const maxNameLength = 200

/** How much of a bad value an error message shows. */
const echoLength = 40

/** A short, printable rendering of any value for an error message: control characters escaped, long strings cut. */
export const describeValue = (value: unknown): string => {
  if (typeof value === "string") {
    const cut = value.length > echoLength ? `${value.slice(0, echoLength)}…` : value
    return `${escapeText(JSON.stringify(cut))}${value.length > echoLength ? ` (${value.length} characters)` : ""}`
  }
  if (value === null) return "null"
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value)
  if (typeof value === "undefined") return "undefined"
  if (typeof value === "function") return "a function"
  if (typeof value === "symbol") return "a symbol"
  return Array.isArray(value) ? "an array" : "an object"
}

/** Escapes what JSON.stringify leaves raw and a terminal or log reader would act on (C1 controls, lone surrogates, line separators). */
export const escapeText = (text: string): string =>
  text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  )

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
