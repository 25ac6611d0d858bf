/**
 * Printing the values the serializer stores (JSON plus Date, BigInt, Map, Set, Uint8Array, undefined,
 * NaN/±Infinity/-0 and Error): `toJson` for `--json` (whole, lossless for scripts), `inline` for tables
 * (one line, readable, cut to a width). Neither throws on any value: a cycle or a function prints as such.
 */

/**
 * The JSON form of a value: BigInt as a decimal string, Date as an ISO string, Map as [key, value] pairs,
 * Set as an array, Uint8Array as base64, NaN and ±Infinity as strings, Error as { name, message, … }.
 */
export const toJson = (value: unknown): unknown => convert(value, new Set())

const convert = (value: unknown, seen: Set<object>): unknown => {
  switch (typeof value) {
    case "bigint":
      return value.toString()
    case "number":
      return Number.isFinite(value) ? value : String(value)
    case "undefined":
      return null
    case "function":
      return `[function ${value.name || "anonymous"}]`
    case "symbol":
      return value.toString()
    case "object": {
      if (value === null) return null
      if (seen.has(value)) return "[circular]"
      seen.add(value)
      try {
        if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString()
        if (value instanceof Uint8Array) return Buffer.from(value).toString("base64")
        if (value instanceof Map) return [...value].map(([k, v]) => [convert(k, seen), convert(v, seen)])
        if (value instanceof Set) return [...value].map((v) => convert(v, seen))
        if (Array.isArray(value)) return value.map((v) => convert(v, seen))
        const out: Record<string, unknown> = {}
        if (value instanceof Error) {
          out["name"] = value.name
          out["message"] = value.message
        }
        for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = convert(v, seen)
        if (value instanceof Error && value.cause !== undefined) out["cause"] = convert(value.cause, seen)
        return out
      } finally {
        seen.delete(value)
      }
    }
    default:
      return value
  }
}

/** One readable line: strings as they are at the top level, BigInt as `12n`, Map as `Map { a => 1 }`. */
export const inline = (value: unknown): string => (typeof value === "string" ? oneLine(value) : show(value, new Set()))

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ⏎ ")

const show = (value: unknown, seen: Set<object>): string => {
  switch (typeof value) {
    case "string":
      return oneLine(JSON.stringify(value))
    case "bigint":
      return `${value}n`
    case "number":
      return Object.is(value, -0) ? "-0" : String(value)
    case "undefined":
      return "undefined"
    case "function":
      return `[function ${value.name || "anonymous"}]`
    case "symbol":
      return value.toString()
    case "boolean":
      return String(value)
    case "object": {
      if (value === null) return "null"
      if (seen.has(value)) return "[circular]"
      seen.add(value)
      try {
        if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString()
        if (value instanceof Error) return oneLine(`${value.name}: ${value.message}`)
        if (value instanceof Uint8Array) return `Uint8Array(${value.length})`
        if (value instanceof Map)
          return `Map(${value.size}) {${[...value].map(([k, v]) => ` ${show(k, seen)} => ${show(v, seen)}`).join(",")} }`
        if (value instanceof Set) return `Set(${value.size}) {${[...value].map((v) => ` ${show(v, seen)}`).join(",")} }`
        if (Array.isArray(value)) return `[${value.map((v) => show(v, seen)).join(", ")}]`
        const entries = Object.entries(value).map(
          ([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${show(v, seen)}`,
        )
        return entries.length ? `{ ${entries.join(", ")} }` : "{}"
      } finally {
        seen.delete(value)
      }
    }
    default:
      return String(value)
  }
}

/** Cut `text` to `width` characters, marking the cut with `…` and how much was left out. */
export const truncate = (text: string, width: number): string => {
  if (text.length <= width) return text
  const note = `… (+${text.length - width + 1})`
  return width > note.length + 8
    ? text.slice(0, width - note.length) + note
    : text.slice(0, Math.max(1, width - 1)) + "…"
}

/** Several indented lines, for a detail view: like `inline`, but objects, arrays and maps one entry a line. */
export const pretty = (value: unknown, indent = ""): string => {
  if (typeof value === "string") return value
  return prettyAt(value, indent, new Set())
}

const prettyAt = (value: unknown, indent: string, seen: Set<object>): string => {
  if (typeof value !== "object" || value === null || value instanceof Date || value instanceof Uint8Array)
    return show(value, seen)
  if (seen.has(value)) return "[circular]"
  const next = indent + "  "
  seen.add(value)
  try {
    const block = (open: string, lines: string[], close: string) =>
      lines.length === 0
        ? `${open}${close}`
        : `${open}\n${lines.map((l) => `${next}${l}`).join(",\n")}\n${indent}${close}`
    if (value instanceof Error) {
      const own = Object.entries(value).map(([k, v]) => `${k}: ${prettyAt(v, next, seen)}`)
      const head = `${value.name}: ${value.message}`
      const cause = value.cause === undefined ? [] : [`cause: ${prettyAt(value.cause, next, seen)}`]
      return own.length || cause.length ? block(`${head} {`, [...own, ...cause], "}") : head
    }
    if (value instanceof Map)
      return block(
        `Map(${value.size}) {`,
        [...value].map(([k, v]) => `${show(k, seen)} => ${prettyAt(v, next, seen)}`),
        "}",
      )
    if (value instanceof Set)
      return block(
        `Set(${value.size}) {`,
        [...value].map((v) => prettyAt(v, next, seen)),
        "}",
      )
    if (Array.isArray(value))
      return block(
        "[",
        value.map((v) => prettyAt(v, next, seen)),
        "]",
      )
    return block(
      "{",
      Object.entries(value).map(
        ([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${prettyAt(v, next, seen)}`,
      ),
      "}",
    )
  } finally {
    seen.delete(value)
  }
}
