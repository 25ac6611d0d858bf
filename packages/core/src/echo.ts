/**
 * How an error message or a log shows a value it did not choose: short, and with every character a terminal
 * or log reader would act on escaped. A 1 MB id or one holding a newline must neither flood nor forge the log
 * that prints the error. Apart from validation.ts so the error classes themselves can use it.
 */

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
