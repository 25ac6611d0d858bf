/**
 * What a wake-up says, in SQL (the NOTIFY sent by a write) and in TypeScript (the subscriber it is for).
 *
 * One channel per schema. A payload is a JSON array `[kind, workflowId, name]` (a queue's wake: `["q", queue, ""]`) built by the database
 * (`json_build_array`), so any id or name survives it; a status payload carries the new status as its name.
 * Ids and names are at most 200 characters, far under NOTIFY's 8000 bytes; should a payload ever be
 * longer, `"*"` is sent instead, which means "something changed: look at everything".
 */
import type { Wake } from "@durably/core"

/** The NOTIFY channel of a schema (already validated as a lower-case identifier). */
export const channelOf = (schema: string): string => `durably_${schema}`

const letters = { status: "s", message: "m", event: "e", stream: "t", queue: "q", schedules: "c" } as const
export type WakeLetter = (typeof letters)[keyof typeof letters]

/** The letter, workflow and name of a wake (name: topic, event key, stream key; "" for status). */
export const wakeParts = (wake: Wake): readonly [WakeLetter, string, string] => {
  switch (wake.kind) {
    case "status":
      return [letters.status, wake.workflowId, ""]
    case "message":
      return [letters.message, wake.workflowId, wake.topic]
    case "event":
      return [letters.event, wake.workflowId, wake.key]
    case "stream":
      return [letters.stream, wake.workflowId, wake.key]
    case "queue":
      return [letters.queue, wake.queue, ""]
    case "schedules":
      return [letters.schedules, "", ""]
  }
}

/** The subscribers' key of a wake. */
export const keyOf = (letter: string, workflowId: string, name: string): string =>
  JSON.stringify([letter, workflowId, name])

export type Notice =
  /** Wake the subscribers of `key`; `detail` is the new status of a status wake. */
  | { readonly _tag: "One"; readonly key: string; readonly detail?: string }
  /** Something changed that the payload could not say: re-check every subscription. */
  | { readonly _tag: "All" }

/** Read a payload; undefined for one this code does not understand (ignored). */
export const parsePayload = (payload: string): Notice | undefined => {
  if (payload === "*") return { _tag: "All" }
  let parts: unknown
  try {
    parts = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (!Array.isArray(parts) || parts.length !== 3 || !parts.every((p) => typeof p === "string")) return undefined
  const [letter, id, name] = parts as [string, string, string]
  if (letter === letters.status) return { _tag: "One", key: keyOf(letter, id, ""), detail: name }
  return { _tag: "One", key: keyOf(letter, id, name) }
}

/**
 * The SQL expression that sends the wake `letter` for (`idSql`, `nameSql`) — column names or parameters — or,
 * when the store notifies in-process (`channel` undefined), a NULL of the same type.
 */
export const notifySql = (channel: string | undefined, letter: WakeLetter, idSql: string, nameSql: string): string => {
  if (channel === undefined) return "NULL::void"
  const payload = `json_build_array('${letter}', (${idSql})::text, (${nameSql})::text)::text`
  return `pg_notify('${channel}', CASE WHEN octet_length(${payload}) < 8000 THEN ${payload} ELSE '*' END)`
}
