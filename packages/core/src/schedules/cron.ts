/**
 * Cron expressions read in a time zone, on top of cron-parser (which walks wall-clock time in the zone, so
 * daylight-saving changes neither skip nor double a tick: a time the clock skips runs at the first instant
 * after the change; a time it repeats runs at its first occurrence; expressions with a wildcard hour follow
 * real time). Instants are epoch milliseconds.
 */
import { CronExpressionParser, type CronExpression } from "cron-parser"
import { InvalidArgument } from "../errors.ts"
import { describeValue, escapeText } from "../validation.ts"

/** A validated cron expression and its zone. */
export interface Cron {
  readonly cron: string
  readonly timezone: string
}

const knownZone = (timezone: string): boolean => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone })
    return true
  } catch {
    return false
  }
}

const expression = (c: Cron, currentDate: number): CronExpression =>
  CronExpressionParser.parse(c.cron, { tz: c.timezone, currentDate: new Date(currentDate) })

/** Check a cron and its zone; throws InvalidArgument naming the bad field (`where` says whose). */
export const parseCron = (cron: unknown, timezone: unknown, where: string): Cron => {
  if (typeof timezone !== "string" || !knownZone(timezone))
    throw new InvalidArgument({
      reason: `${where}: timezone ${describeValue(timezone)} is not a known IANA time zone (e.g. "Europe/Paris", "UTC")`,
    })
  if (typeof cron !== "string")
    throw new InvalidArgument({
      reason: `${where}: cron must be a string such as "0 2 * * *"; got ${describeValue(cron)}`,
    })
  const text = cron.trim()
  const fields = text.split(/\s+/).length
  if (!(text.startsWith("@") ? fields === 1 : fields === 5 || fields === 6))
    throw new InvalidArgument({
      reason: `${where}: cron ${describeValue(cron)} must have 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or be a macro such as "@hourly"`,
    })
  try {
    const c = { cron: text, timezone }
    expression(c, Date.UTC(2026, 0, 1)).next()
    return c
  } catch (e) {
    throw new InvalidArgument({
      // The parser's words may quote the bad field whole: cut and escaped like any echo of caller input.
      reason: `${where}: cron ${describeValue(cron)} is not valid: ${escapeText((e instanceof Error ? e.message : String(e)).slice(0, 200))}`,
    })
  }
}

/**
 * Ticks strictly after `after`, oldest first. cron-parser's forward walk misses a tick moved out of a
 * daylight-saving gap when it starts inside the hour after the gap (Europe/Paris 02:30 on the
 * spring-forward day is found from 01:59 but not from 03:29), so the walk starts at the tick before
 * `after` (its backward walk), which is before any such gap, and skips what is not after `after`.
 */
function* forward(c: Cron, after: number): Generator<number> {
  let anchor = after
  try {
    anchor = Math.min(
      after,
      expression(c, after + 1)
        .prev()
        .getTime(),
    )
  } catch {
    // no tick before `after`: walk from there
  }
  try {
    const e = expression(c, anchor - 1)
    for (;;) {
      const t = e.next().getTime()
      if (t > after) yield t
    }
  } catch {
    // the expression never fires again
  }
}

/** The first tick strictly after `after`; undefined when the expression never fires again. */
export const nextTick = (c: Cron, after: number): number | undefined => {
  for (const t of forward(c, after)) return t
  return undefined
}

/** Ticks in (after, until], oldest first, at most `limit`. */
export const ticksBetween = (c: Cron, after: number, until: number, limit: number): number[] => {
  const out: number[] = []
  if (limit <= 0) return out
  for (const t of forward(c, after)) {
    if (t > until) break
    out.push(t)
    if (out.length >= limit) break
  }
  return out
}

/**
 * The most recent ticks in (after, until], newest first, at most `limit`. cron-parser's backward walk does
 * not see a tick moved out of a daylight-saving gap (its forward walk does), so the backward walk only
 * finds where to start, and the ticks themselves come from the forward walk: cheap for small limits
 * however long ago `after` is.
 */
export const latestTicks = (c: Cron, after: number, until: number, limit: number): number[] => {
  if (limit <= 0) return []
  const approx: number[] = []
  try {
    // prev() is strictly before the current date: start just past `until` so a tick at `until` counts.
    const e = expression(c, until + 1)
    while (approx.length < limit) {
      const t = e.prev().getTime()
      if (t <= after) break
      approx.push(t)
    }
  } catch {
    // no earlier tick
  }
  const from = approx.length === limit ? Math.max(after, approx[limit - 1]! - 1) : after
  return ticksBetween(c, from, until, Number.MAX_SAFE_INTEGER).slice(-limit).reverse()
}
