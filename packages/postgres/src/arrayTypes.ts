/**
 * Array parameters and results for our postgres.js pools, without the driver's own type fetch. The driver
 * fetches the server's array types on a connection as soon as it opens, from a promise nobody can observe: a
 * connection reset at that moment (a failover, `pg_terminate_backend`, a restart) is an unhandled rejection
 * that kills the process (postgres.js issues 1154, 1192). So our pools open with `fetch_types: false`, and
 * the pool's first query first reads the array types itself, as an ordinary query whose failure its caller
 * sees (and retries), then registers a parser and a serializer for each, as the driver would have.
 */
import type postgres from "postgres"

/** Each element type with its array type (as the driver asks for them). */
export const arrayTypesSql = `SELECT b.oid::int AS oid, b.typarray::int AS typarray
  FROM pg_catalog.pg_type a JOIN pg_catalog.pg_type b ON b.oid = a.typelem
  WHERE a.typcategory = 'A' GROUP BY b.oid, b.typarray ORDER BY b.oid`

type Parse = (text: string) => unknown
type Serialize = (value: unknown) => unknown

interface DriverOptions {
  readonly parsers: Record<number, Parse | undefined>
  readonly serializers: Record<number, Serialize | undefined>
  readonly shared: { readonly typeArrayMap: Record<number, number> }
  readonly transform: { readonly undefined?: unknown }
}

/** Only box arrays are delimited by ';'. */
const delimiterOf = (typarray: number) => (typarray === 1020 ? ";" : ",")

const quote = (text: string) => `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`

/** A JavaScript array (nested for more dimensions) as a Postgres array literal. */
export const serializeArray = (
  value: unknown,
  element: Serialize | undefined,
  typarray: number,
  undefinedAs?: unknown,
): unknown => {
  if (!Array.isArray(value)) return value
  const item = (x: unknown): string => {
    if (Array.isArray(x)) return serializeArray(x, element, typarray, undefinedAs) as string
    const v = x === undefined ? undefinedAs : x
    if (v === undefined) throw new Error("Undefined values are not allowed in an array parameter")
    return v === null ? "null" : quote(String(element ? element(v) : v))
  }
  return `{${value.map(item).join(delimiterOf(typarray))}}`
}

/** A Postgres array literal (text format) as a JavaScript array, each element through `element`. */
export const parseArray = (text: string, element: Parse | undefined, typarray: number): unknown[] => {
  const delimiter = delimiterOf(typarray)
  // A literal with explicit bounds ("[0:1]={…}") starts at its brace.
  let i = text.indexOf("{")
  const value = (raw: string, quoted: boolean) =>
    !quoted && raw.toUpperCase() === "NULL" ? null : element ? element(raw) : raw
  const level = (): unknown[] => {
    const out: unknown[] = []
    i++ // past "{"
    for (;;) {
      const c = text[i]
      if (c === undefined) throw new Error(`malformed array literal: ${text}`)
      if (c === "}") {
        i++
        return out
      }
      if (c === delimiter) i++
      else if (c === "{") out.push(level())
      else if (c === '"') {
        let raw = ""
        for (i++; text.charAt(i) !== '"'; i++) {
          if (i >= text.length) throw new Error(`malformed array literal: ${text}`)
          raw += text.charAt(text.charAt(i) === "\\" ? ++i : i)
        }
        i++
        out.push(value(raw, true))
      } else {
        const start = i
        while (text[i] !== delimiter && text[i] !== "}" && text[i] !== undefined) i++
        out.push(value(text.slice(start, i).trim(), false))
      }
    }
  }
  return i < 0 ? [] : level()
}

/** Register a parser and a serializer for each array type read by `arrayTypesSql`, as the driver does. */
export const registerArrayTypes = (
  sql: postgres.Sql<Record<string, postgres.PostgresType>>,
  rows: ReadonlyArray<{ readonly oid: number; readonly typarray: number }>,
) => {
  const options = sql.options as unknown as DriverOptions
  for (const { oid, typarray } of rows) {
    if (options.parsers[typarray] && options.serializers[typarray]) continue
    const element = options.parsers[oid]
    options.shared.typeArrayMap[oid] = typarray
    options.parsers[typarray] = (text) => parseArray(text, element, typarray)
    options.serializers[typarray] = (value) =>
      serializeArray(value, options.serializers[oid], typarray, options.transform.undefined)
  }
}
