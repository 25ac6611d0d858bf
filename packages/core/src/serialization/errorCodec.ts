/**
 * How `durably-json-1` writes an `Error`: the payload `{ name, message, stack?, cause?, errors?, props? }`.
 *
 * - `name`, `message`: always (read through the prototype, so getters such as a tagged error's `message` count).
 * - `stack`: when the error has one. `cause` and `errors` (AggregateError): when they are own, non-enumerable
 *   properties (as the constructors make them); own enumerable ones travel in `props` with the rest.
 * - `props`: every own enumerable string-keyed property (`code`, `_tag`, fields …); symbol keys are skipped.
 *
 * Revived errors are instances of the built-in class their `name` names (TypeError, RangeError, SyntaxError,
 * ReferenceError, EvalError, URIError, AggregateError), otherwise of `Error`: without a schema the original
 * class is lost, but `name`, `message`, `stack`, `cause`, `errors` and the own properties are restored as they were.
 */

/** Encodes (or decodes) one part of an error, at `.key` (or `.key[index]`) below the error's path. */
export type Recurse = (value: unknown, key: string, index?: number) => unknown

const BUILTIN = new Map<string, () => Error>([
  ["Error", () => new Error()],
  ["TypeError", () => new TypeError()],
  ["RangeError", () => new RangeError()],
  ["SyntaxError", () => new SyntaxError()],
  ["ReferenceError", () => new ReferenceError()],
  ["EvalError", () => new EvalError()],
  ["URIError", () => new URIError()],
  ["AggregateError", () => new AggregateError([])],
])

const isEnumerable = (o: object, key: string): boolean => Object.prototype.propertyIsEnumerable.call(o, key)

const ownHidden = (o: object, key: string): boolean => Object.hasOwn(o, key) && !isEnumerable(o, key)

/** Defines an own data property; never goes through a setter (so a "__proto__" key stays an ordinary property). */
const define = (o: object, key: string, value: unknown, enumerable: boolean): void => {
  Object.defineProperty(o, key, { value, writable: true, enumerable, configurable: true })
}

/** The JSON-safe payload of `err`; `recurse` encodes each part. */
export function encodeError(err: Error, recurse: Recurse): Record<string, unknown> {
  const out: Record<string, unknown> = { name: recurse(err.name, "name"), message: recurse(err.message, "message") }
  if (err.stack !== undefined) out.stack = recurse(err.stack, "stack")
  if (ownHidden(err, "cause")) out.cause = recurse(err.cause, "cause")
  const errors: unknown = (err as { errors?: unknown }).errors
  if (Array.isArray(errors) && ownHidden(err, "errors")) out.errors = errors.map((e, i) => recurse(e, "errors", i))
  const keys = Object.keys(err)
  if (keys.length > 0) {
    const props: Record<string, unknown> = {}
    for (const key of keys) define(props, key, recurse((err as unknown as Record<string, unknown>)[key], key), true)
    out.props = props
  }
  return out
}

/** Revives an error from its parsed payload; `recurse` decodes each part, `malformed` builds the error to throw. */
export function decodeError(
  payload: Record<string, unknown>,
  recurse: Recurse,
  malformed: (reason: string) => Error,
): Error {
  const name = recurse(payload.name, "name")
  const err = (typeof name === "string" ? BUILTIN.get(name) : undefined)?.() ?? new Error()
  if (err.name !== name) define(err, "name", name, false)
  define(err, "message", recurse(payload.message, "message"), false)
  if (Object.hasOwn(payload, "stack")) define(err, "stack", recurse(payload.stack, "stack"), false)
  else delete err.stack
  if (Object.hasOwn(payload, "cause")) define(err, "cause", recurse(payload.cause, "cause"), false)
  if (Object.hasOwn(payload, "errors")) {
    const errors = payload.errors
    if (!Array.isArray(errors)) throw malformed("malformed error payload: errors is not an array")
    define(
      err,
      "errors",
      errors.map((e, i) => recurse(e, "errors", i)),
      false,
    )
  }
  if (Object.hasOwn(payload, "props")) {
    const props = payload.props
    if (typeof props !== "object" || props === null || Array.isArray(props)) {
      throw malformed("malformed error payload: props is not an object")
    }
    for (const key of Object.keys(props)) define(err, key, recurse((props as Record<string, unknown>)[key], key), true)
  }
  return err
}
