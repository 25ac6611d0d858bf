/**
 * Paths to a part of a value, as SerializationError reports them. `$` is the whole value; `.key` or `["weird key"]`
 * a property; `[2]` an array index; `<map>[0].key` / `<map>[0].value` the key / value of a Map's first entry;
 * `<set>[1]` a Set's second element. Example: `$.orders[3].lines<map>[0].value.callback`.
 */
import { SerializationError } from "../errors.ts"

/** Marks the step into a Map's entries (followed by the entry index and "key" or "value"). */
export const MAP = Symbol("<map>")
/** Marks the step into a Set's elements (followed by the element index). */
export const SET = Symbol("<set>")
/** One step of a path: a property name, an index, or the way into a Map or Set. */
export type Segment = string | number | typeof MAP | typeof SET

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** Renders segments as a path, e.g. `$.items[2]["weird key"]`. */
export const formatPath = (path: ReadonlyArray<Segment>): string => {
  let out = "$"
  for (const s of path) {
    if (typeof s === "number") out += `[${s}]`
    else if (s === MAP) out += "<map>"
    else if (s === SET) out += "<set>"
    else out += IDENTIFIER.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`
  }
  return out
}

/** The SerializationError for the part at `path`. */
export const failure = (path: ReadonlyArray<Segment>, reason: string): SerializationError =>
  new SerializationError({ reason, path: formatPath(path) })
