/** Database errors become StoreErrors that say what happened and whether trying again can help. */
import { StoreError, type StoreFailureKind } from "@durably/core"

/** SQLSTATE classes and codes that a retry may get past. */
const retryableStates = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "55P03", // lock_not_available
])

const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
])

export type FailureKind = StoreFailureKind

export const failureKind = (e: unknown): FailureKind => {
  const code = (e as { code?: unknown } | null)?.code
  if (typeof code !== "string") return "other"
  if (code === "23505") return "unique-violation"
  if (code === "40001") return "serialization"
  if (code === "40P01") return "deadlock"
  if (code.startsWith("57P")) return "shutdown"
  if (code.startsWith("08") || connectionCodes.has(code)) return "connection"
  // The value is the problem, so no retry can help: 22 data exception (out of range, invalid text, NUL),
  // 23 an integrity constraint other than uniqueness, 42804 a value of the wrong type.
  if (code.startsWith("22") || code.startsWith("23") || code === "42804") return "invalid-data"
  return "other"
}

export const isRetryable = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === "string" && (retryableStates.has(code) || code.startsWith("08") || connectionCodes.has(code))
}

export const toStoreError = (operation: string, e: unknown, where?: string): StoreError => {
  if (e instanceof StoreError) return e
  const kind = failureKind(e)
  const clean = scrub(e)
  const code = (e as { code?: unknown } | null)?.code
  const aboutServer = kind === "connection" || (typeof code === "string" && (code.startsWith("28") || code === "3D000"))
  const cause =
    aboutServer && where ? new Error(`cannot use Postgres at ${where}: ${clean.message}`, { cause: clean }) : clean
  return new StoreError({ operation, cause, retryable: isRetryable(e), kind })
}

/** What a driver error may say beyond its message: where the database found the problem, never the data. */
const keptFields = [
  "code",
  "severity",
  "hint",
  "position",
  "schema_name",
  "table_name",
  "column_name",
  "constraint_name",
  "errno",
  "syscall",
  "address",
  "port",
] as const

/**
 * A driver error as a StoreError may carry it: its message (cut to 500 characters), code and the fields
 * above, without what postgres.js attaches (`query`, `parameters`, `args`): the statement's parameters hold
 * whole payloads, and a connection's options its password.
 */
export const scrub = (e: unknown): Error => {
  if (!(e instanceof Error)) return new Error(String(e).slice(0, 500))
  const message = e.message.length > 500 ? `${e.message.slice(0, 500)}…` : e.message
  const clean = new Error(message)
  clean.name = e.name
  clean.stack = `${e.name}: ${message}`
  for (const key of keptFields) {
    const v = (e as unknown as Record<string, unknown>)[key]
    if (typeof v === "string" || typeof v === "number") Object.assign(clean, { [key]: v })
  }
  return clean
}
