/**
 * Listing filters from text (query strings, command-line flags) to the management API's options. Only the
 * text is checked here (times, numbers, the order); the API checks the rest (statuses, cursors) itself.
 * Bad text is an InvalidArgument naming the field, as the API's own are.
 */
import { InvalidArgument, type ListOptions, type WorkflowFilter, type WorkflowStatus } from "@durably/core"

/** Read the values given for a field (none, one, or several). */
export type Lookup = (field: string) => ReadonlyArray<string>

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const longUnits: Record<string, string> = {
  second: "s",
  minute: "m",
  hour: "h",
  day: "d",
  week: "w",
  millisecond: "ms",
}

/** "2h", "30 minutes", "7d" → milliseconds; undefined when it is not a duration. */
export const parseDuration = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(text.trim())
  if (!m) return undefined
  const word = m[2]!.toLowerCase()
  const unit = units[word] ?? units[longUnits[word.replace(/s$/, "")] ?? ""]
  return unit === undefined ? undefined : Number(m[1]) * unit
}

/** An instant: ISO 8601 (a date or a date and time), or a duration meaning that long before `now`. */
export const parseInstant = (field: string, text: string, now = Date.now()): Date => {
  const ago = parseDuration(text.replace(/\s+ago$/i, ""))
  if (ago !== undefined) return new Date(now - ago)
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const d = new Date(text.trim())
    if (!Number.isNaN(d.getTime())) return d
  }
  throw new InvalidArgument({
    reason: `${field}: ${JSON.stringify(text)} is not a time; give an ISO 8601 date or time (2026-03-01, 2026-03-01T03:00:00Z) or a duration ago (2h, 30m, 7d)`,
  })
}

const one = (get: Lookup, field: string): string | undefined => {
  const all = get(field)
  if (all.length > 1) throw new InvalidArgument({ reason: `${field}: give it once (got ${all.length} values)` })
  return all[0]
}

/** The filter fields (status and name may repeat). */
export const filterFrom = (get: Lookup, now = Date.now()): WorkflowFilter => {
  const f: { -readonly [K in keyof WorkflowFilter]: WorkflowFilter[K] } = {}
  const status = get("status").map((s) => s.toUpperCase() as WorkflowStatus)
  if (status.length) f.status = status
  const names = get("name")
  if (names.length) f.name = names
  for (const key of ["idPrefix", "queue", "executorId", "appVersion", "parentId"] as const) {
    const v = one(get, key)
    if (v !== undefined) f[key] = v
  }
  for (const key of ["createdAfter", "createdBefore", "updatedAfter"] as const) {
    const v = one(get, key)
    if (v !== undefined) f[key] = parseInstant(key, v, now)
  }
  return f
}

/** The filter plus paging: limit, cursor and order. */
export const listOptionsFrom = (get: Lookup, now = Date.now()): ListOptions => {
  const options: { -readonly [K in keyof ListOptions]: ListOptions[K] } = { ...filterFrom(get, now) }
  const limit = one(get, "limit")
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit))
      throw new InvalidArgument({ reason: `limit: ${JSON.stringify(limit)} is not a whole number` })
    options.limit = Number(limit)
  }
  const cursor = one(get, "cursor")
  if (cursor !== undefined) options.cursor = cursor
  const order = one(get, "order")
  if (order !== undefined) {
    if (order !== "asc" && order !== "desc")
      throw new InvalidArgument({ reason: `order: ${JSON.stringify(order)} must be asc or desc` })
    options.order = order
  }
  return options
}

/** Whether a filter names anything (a bulk action over "everything" must be explicit). */
export const isEmptyFilter = (f: WorkflowFilter): boolean => Object.keys(f).length === 0
