/**
 * The default serializer, "durably-json-1": JSON text in which plain JSON values stand for themselves and
 * everything JSON cannot say is an object tagged with the key "~t":
 *
 *   {"~t":"undefined"}   {"~t":"number","v":"NaN"|"Infinity"|"-Infinity"|"-0"}   {"~t":"bigint","v":"-12"}
 *   {"~t":"date","v":"2024-01-02T03:04:05.678Z"} (v is null for an invalid date)   {"~t":"bytes","v":"<base64>"}
 *   {"~t":"map","v":[[key, value], …]}   {"~t":"set","v":[element, …]}   {"~t":"error","v":{…}} (./errorCodec.ts)
 *   {"~t":"object","v":{…}} — a plain object that has a "~t" key of its own; its fields are read literally.
 *
 * Errors name the bad part with a path (./path.ts): `$.items[2].callback`, `$.m<map>[0].value`, `$.s<set>[1]`, and
 * for an error's parts `.name`, `.message`, `.stack`, `.cause`, `.errors[0]` and its own properties.
 *
 * Without a schema some identity is lost: an instance of any other class becomes a plain object of its own enumerable
 * string-keyed properties; subclasses of Date, Map, Set and Uint8Array (e.g. Buffer) come back as the base class;
 * errors as described in ./errorCodec.ts; a value referenced twice comes back as two copies; array holes come back
 * as `undefined`. Symbol-keyed properties are skipped, as in JSON. Functions, symbols, Promises, WeakMaps, WeakSets,
 * WeakRefs and cycles are refused. Plain objects and arrays that need no tagging are handed to JSON.stringify as they
 * are, so their enumerable getters run again there (and must return the same value).
 */
import { Buffer } from "node:buffer"
import { decodeError, encodeError } from "./errorCodec.ts"
import { failure, formatPath, MAP, type Segment, SET } from "./path.ts"
import type { Serializer } from "./Serializer.ts"

const TAG = "~t"

/** Where the encoding walk is: the current path, and the containers open on it with the path depth at each. */
interface Walk {
  readonly path: Segment[]
  readonly open: object[]
  readonly openDepth: number[]
}

/** Sets an own data property, also for the key "__proto__" (which plain assignment would treat as the prototype). */
const put = (o: Record<string, unknown>, key: string, value: unknown): void => {
  if (key !== "__proto__") o[key] = value
  else Object.defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true })
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

const UNDEFINED = Object.freeze({ [TAG]: "undefined" })
const NUMBERS = new Map<string, number>([
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["-Infinity", -Infinity],
  ["-0", -0],
])
const NUMBER_TAGS = new Map([...NUMBERS.keys()].map((v) => [v, Object.freeze({ [TAG]: "number", v })]))
const specialNumber = (n: number) => NUMBER_TAGS.get(Object.is(n, -0) ? "-0" : String(n))

// ---- encoding -------------------------------------------------------------------------------------------------

/** Encodes `value` one segment (or two, or three) deeper than the current path. */
function child(value: unknown, w: Walk, a: Segment, b?: Segment, c?: Segment): unknown {
  const depth = w.path.push(a)
  if (b !== undefined) w.path.push(b)
  if (c !== undefined) w.path.push(c)
  const out = encodeValue(value, w)
  w.path.length = depth - 1
  return out
}

function encodeValue(value: unknown, w: Walk): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0) ? value : specialNumber(value)
    case "undefined":
      return UNDEFINED
    case "bigint":
      return { [TAG]: "bigint", v: value.toString() }
    case "object":
      return value === null ? null : encodeObject(value, w)
    case "function":
      throw failure(w.path, `a function cannot be serialized (${value.name || "anonymous"})`)
    default:
      throw failure(w.path, `a symbol cannot be serialized (${String(value)})`)
  }
}

/**
 * Deepest nesting of objects and arrays encoded: far beyond real data, and well inside the stack that this walk,
 * JSON.stringify and JSON.parse need, so deep input fails as a SerializationError instead of a stack overflow.
 */
export const maxDepth = 1000

function encodeObject(o: object, w: Walk): unknown {
  if (w.open.length >= maxDepth)
    throw failure(w.path.slice(0, 20), `the value is nested deeper than ${maxDepth} levels`)
  // A linear scan beats a Set at the depths real payloads have.
  const at = w.open.lastIndexOf(o)
  if (at !== -1) throw failure(w.path, `circular reference (back to ${formatPath(w.path.slice(0, w.openDepth[at]))})`)
  w.open.push(o)
  w.openDepth.push(w.path.length)
  const out = encodeContainer(o, w)
  w.open.pop()
  w.openDepth.pop()
  return out
}

function encodeContainer(o: object, w: Walk): unknown {
  const proto: unknown = Object.getPrototypeOf(o)
  // Only exact plain objects and arrays may be passed on as they are: a class could have a `toJSON`.
  if (proto === Object.prototype || proto === null) return encodeFields(o as Record<string, unknown>, w, proto !== null)
  if (Array.isArray(o)) return encodeArray(o, w, proto === Array.prototype)
  if (o instanceof Date) return { [TAG]: "date", v: Number.isNaN(o.getTime()) ? null : o.toISOString() }
  if (o instanceof Uint8Array) {
    return { [TAG]: "bytes", v: Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString("base64") }
  }
  if (o instanceof Map) {
    const entries: unknown[] = []
    for (const [k, v] of o)
      entries.push([child(k, w, MAP, entries.length, "key"), child(v, w, MAP, entries.length, "value")])
    return { [TAG]: "map", v: entries }
  }
  if (o instanceof Set) {
    const elements: unknown[] = []
    for (const v of o) elements.push(child(v, w, SET, elements.length))
    return { [TAG]: "set", v: elements }
  }
  if (o instanceof Error) return { [TAG]: "error", v: encodeError(o, (v, key, i) => child(v, w, key, i)) }
  if (o instanceof Promise) throw failure(w.path, "a Promise cannot be serialized (await it first)")
  if (o instanceof WeakMap || o instanceof WeakSet || o instanceof WeakRef) {
    throw failure(w.path, `a ${Object.prototype.toString.call(o).slice(8, -1)} cannot be serialized`)
  }
  return encodeFields(o as Record<string, unknown>, w, false)
}

/** Copy on write: with `reuse`, `a` itself is returned when no element needed encoding. */
function encodeArray(a: ReadonlyArray<unknown>, w: Walk, reuse: boolean): unknown {
  let out: unknown[] | undefined = reuse ? undefined : []
  const depth = w.path.length
  for (let i = 0; i < a.length; i++) {
    const v = a[i]
    w.path[depth] = i
    const e = encodeValue(v, w)
    if (out !== undefined) out.push(e)
    else if (e !== v) (out = a.slice(0, i)).push(e)
  }
  w.path.length = depth
  return out ?? a
}

/** Copy on write like `encodeArray`; an object with a key "~t" of its own is wrapped as {"~t":"object","v":…}. */
function encodeFields(o: Record<string, unknown>, w: Walk, reuse: boolean): unknown {
  const keys = Object.keys(o)
  let out: Record<string, unknown> | undefined = reuse ? undefined : {}
  let escape = false
  const depth = w.path.length
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (key === TAG) escape = true
    const v = o[key]
    w.path[depth] = key
    const e = encodeValue(v, w)
    if (out !== undefined) put(out, key, e)
    else if (e !== v) {
      out = {}
      for (let j = 0; j < i; j++) put(out, keys[j]!, o[keys[j]!])
      put(out, key, e)
    }
  }
  w.path.length = depth
  const fields = out ?? o
  return escape ? { [TAG]: "object", v: fields } : fields
}

// ---- decoding (in place: the tree is fresh from JSON.parse) ---------------------------------------------------

function decodeChild(value: unknown, path: Segment[], a: Segment, b?: Segment, c?: Segment): unknown {
  if (typeof value !== "object" || value === null) return value
  const depth = path.push(a)
  if (b !== undefined) path.push(b)
  if (c !== undefined) path.push(c)
  const out = decodeValue(value, path)
  path.length = depth - 1
  return out
}

function decodeValue(x: unknown, path: Segment[]): unknown {
  if (typeof x !== "object" || x === null) return x
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const v: unknown = x[i]
      const d = decodeChild(v, path, i)
      if (d !== v) x[i] = d
    }
    return x
  }
  const o = x as Record<string, unknown>
  return Object.hasOwn(o, TAG) ? decodeTagged(o, path) : decodeFields(o, path)
}

function decodeFields(o: Record<string, unknown>, path: Segment[]): Record<string, unknown> {
  for (const key of Object.keys(o)) {
    const v = o[key]
    const d = decodeChild(v, path, key)
    if (d !== v) put(o, key, d)
  }
  return o
}

function decodeTagged(o: Record<string, unknown>, path: Segment[]): unknown {
  const tag = o[TAG]
  const v = o.v
  switch (tag) {
    case "undefined":
      return undefined
    case "number": {
      const n = typeof v === "string" ? NUMBERS.get(v) : undefined
      if (n !== undefined) return n
      break
    }
    case "bigint":
      if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v)
      break
    case "date":
      if (v === null || typeof v === "string") return new Date(v === null ? NaN : v)
      break
    case "bytes":
      if (typeof v === "string") return new Uint8Array(Buffer.from(v, "base64"))
      break
    case "map":
      if (Array.isArray(v)) {
        return new Map(
          v.map((entry: unknown, i) => {
            if (!Array.isArray(entry) || entry.length !== 2) throw failure(path, `malformed map entry ${i}`)
            return [decodeChild(entry[0], path, MAP, i, "key"), decodeChild(entry[1], path, MAP, i, "value")]
          }),
        )
      }
      break
    case "set":
      if (Array.isArray(v)) return new Set(v.map((e: unknown, i) => decodeChild(e, path, SET, i)))
      break
    case "error":
      if (isRecord(v)) {
        return decodeError(
          v,
          (part, key, i) => decodeChild(part, path, key, i),
          (reason) => failure(path, reason),
        )
      }
      break
    case "object":
      if (isRecord(v)) return decodeFields(v, path)
      break
    default:
      throw failure(path, `unknown type tag ${JSON.stringify(tag)}`)
  }
  throw failure(path, `malformed ${tag} payload`)
}

/** The default `Serializer`: JSON with tagged encodings for undefined, special numbers, dates, bigints, bytes, maps, sets and errors. */
export const jsonSerializer: Serializer = {
  name: "durably-json-1",
  encode: (value) => JSON.stringify(encodeValue(value, { path: [], open: [], openDepth: [] })),
  decode: (text) => {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (cause) {
      throw failure([], `invalid JSON text (${(cause as Error).message})`)
    }
    return decodeValue(parsed, [])
  },
}
