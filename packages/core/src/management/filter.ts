/**
 * Checking what callers pass to the management API: filters, list options and cursors. Bad input is an
 * InvalidArgument naming the argument, raised before anything reaches the store.
 */
import { createHash } from "node:crypto"
import { maxInstantMs } from "../duration.ts"
import { InvalidArgument } from "../errors.ts"
import { describeValue, validateName } from "../validation.ts"
import type { StoredFilter } from "../store/Management.ts"
import { workflowStatuses } from "../store/Store.ts"
import type { Instant, ListOptions, WorkflowFilter } from "./types.ts"

const filterKeys = new Set([
  "status",
  "name",
  "idPrefix",
  "queue",
  "executorId",
  "appVersion",
  "parentId",
  "createdAfter",
  "createdBefore",
  "updatedAfter",
])
const listKeys = new Set([...filterKeys, "limit", "cursor", "order", "includeInput", "includeOutput"])

const bad = (api: string, reason: string) => new InvalidArgument({ reason: `${api}: ${reason}` })

const instant = (api: string, key: string, v: Instant | undefined): number | undefined => {
  if (v === undefined) return undefined
  const ms = v instanceof Date ? v.getTime() : v
  // Compared with whole-millisecond columns: a fraction or a time no Date can hold would be refused there.
  if (typeof ms !== "number" || !Number.isInteger(ms) || Math.abs(ms) > maxInstantMs)
    throw bad(api, `${key} must be a Date or whole epoch milliseconds; got ${describeValue(v)}`)
  return ms
}

const text = (api: string, key: string, v: unknown): string | undefined => {
  if (v === undefined) return undefined
  validateName(v, `${api}: ${key}`)
  return v as string
}

const list = <T extends string>(
  api: string,
  key: string,
  v: T | ReadonlyArray<T> | undefined,
  allowed?: ReadonlyArray<T>,
) => {
  if (v === undefined) return undefined
  const items = Array.isArray(v) ? (v as ReadonlyArray<T>) : [v as T]
  for (const item of items) {
    text(api, key, item)
    if (allowed && !allowed.includes(item))
      throw bad(api, `${key} ${describeValue(item)} is not one of ${allowed.join(", ")}`)
  }
  return items
}

/** A caller's filter in the store's terms; unknown keys are refused (a typo would otherwise match everything). */
export const storedFilter = (api: string, f: WorkflowFilter | undefined, keys = filterKeys): StoredFilter => {
  if (f === undefined) return {}
  if (typeof f !== "object" || f === null) throw bad(api, "the filter must be an object")
  for (const k of Object.keys(f)) if (!keys.has(k)) throw bad(api, `unknown option ${describeValue(k)}`)
  const status = list(api, "status", f.status, workflowStatuses)
  const names = list(api, "name", f.name)
  const idPrefix = text(api, "idPrefix", f.idPrefix)
  const queue = text(api, "queue", f.queue)
  const executorId = f.executorId === null ? null : text(api, "executorId", f.executorId)
  const appVersion = text(api, "appVersion", f.appVersion)
  const parentId = text(api, "parentId", f.parentId)
  const createdAfter = instant(api, "createdAfter", f.createdAfter)
  const createdBefore = instant(api, "createdBefore", f.createdBefore)
  const updatedAfter = instant(api, "updatedAfter", f.updatedAfter)
  return {
    ...(status ? { status } : {}),
    ...(names ? { names } : {}),
    ...(idPrefix === undefined ? {} : { idPrefix }),
    ...(queue === undefined ? {} : { queue }),
    ...(executorId === undefined ? {} : { executorId }),
    ...(appVersion === undefined ? {} : { appVersion }),
    ...(parentId === undefined ? {} : { parentId }),
    ...(createdAfter === undefined ? {} : { createdAfter }),
    ...(createdBefore === undefined ? {} : { createdBefore }),
    ...(updatedAfter === undefined ? {} : { updatedAfter }),
  }
}

export interface ListRequest {
  readonly filter: StoredFilter
  readonly limit: number
  readonly order: "asc" | "desc"
  readonly after?: { readonly createdAt: number; readonly id: string }
  readonly includeInput: boolean
  readonly includeOutput: boolean
  /** Identifies the filter and order, so a cursor made for another listing is refused. */
  readonly key: string
}

const listingKey = (filter: StoredFilter, order: string) =>
  createHash("sha256")
    .update(JSON.stringify([order, Object.entries(filter).sort(([a], [b]) => (a < b ? -1 : 1))]))
    .digest("base64url")
    .slice(0, 12)

/** A cursor: where the page ended and which listing it belongs to. Opaque to callers. */
export const encodeCursor = (key: string, last: { readonly createdAt: number; readonly id: string }): string =>
  Buffer.from(JSON.stringify([key, last.createdAt, last.id])).toString("base64url")

const decodeCursor = (api: string, cursor: string, key: string) => {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"))
  } catch {
    parsed = undefined
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    typeof parsed[0] !== "string" ||
    typeof parsed[1] !== "number" ||
    typeof parsed[2] !== "string"
  )
    throw bad(api, "cursor is not one this API returned")
  if (parsed[0] !== key)
    throw bad(api, "cursor belongs to a listing with another filter or order: list again with the same ones")
  return { createdAt: parsed[1], id: parsed[2] }
}

export const listRequest = (api: string, o: ListOptions | undefined): ListRequest => {
  const options = o ?? {}
  const filter = storedFilter(api, options, listKeys)
  const limit = options.limit ?? 50
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw bad(api, `limit must be a whole number from 1 to 1000; got ${String(options.limit)}`)
  const order = options.order ?? "desc"
  if (order !== "asc" && order !== "desc") throw bad(api, `order must be "asc" or "desc"; got ${describeValue(order)}`)
  const key = listingKey(filter, order)
  const cursor = options.cursor === undefined ? undefined : text(api, "cursor", options.cursor)
  const after = cursor === undefined ? undefined : decodeCursor(api, cursor, key)
  return {
    filter,
    limit,
    order,
    key,
    includeInput: options.includeInput === true,
    includeOutput: options.includeOutput === true,
    ...(after ? { after } : {}),
  }
}
