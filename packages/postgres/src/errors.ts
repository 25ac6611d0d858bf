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
  return "other"
}

export const isRetryable = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === "string" && (retryableStates.has(code) || code.startsWith("08") || connectionCodes.has(code))
}

export const toStoreError = (operation: string, e: unknown, where?: string): StoreError => {
  if (e instanceof StoreError) return e
  const kind = failureKind(e)
  const detail = e instanceof Error ? e.message : String(e)
  const code = (e as { code?: unknown } | null)?.code
  const aboutServer = kind === "connection" || (typeof code === "string" && (code.startsWith("28") || code === "3D000"))
  const cause = aboutServer && where ? new Error(`cannot use Postgres at ${where}: ${detail}`, { cause: e }) : e
  return new StoreError({ operation, cause, retryable: isRetryable(e), kind })
}
