/** Log entries from the engine and from `ctx.log`. A sink is a plain function, so any logger plugs in. */
import { escapeText } from "../validation.ts"

export type LogLevel = "debug" | "info" | "warn" | "error"

export interface LogEntry {
  readonly level: LogLevel
  readonly message: string
  /** Lifecycle entries name what happened ("workflow.failed", "step.retrying" …: see LifecycleEventName). */
  readonly event?: string
  readonly workflowId?: string
  readonly workflowName?: string
  readonly step?: string
  readonly fields?: Record<string, unknown>
}

export type LogSink = (entry: LogEntry) => void

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }

/**
 * One entry per line on stderr, from `minLevel` up. Ids, names and fields come from users: their control
 * characters are escaped, so an id with a newline cannot forge a log line. A message's own line breaks (a
 * NonDeterminismError's table) are kept, with continuation lines indented.
 */
export const consoleLogger =
  (minLevel: LogLevel = "info"): LogSink =>
  (e) => {
    if (order[e.level] < order[minLevel]) return
    const tags = [
      e.event && `event=${escapeText(e.event)}`,
      e.workflowName && `workflow=${escapeText(e.workflowName)}`,
      e.workflowId && `id=${escapeText(e.workflowId)}`,
      e.step && `step=${escapeText(e.step)}`,
    ].filter(Boolean)
    const fields = e.fields && Object.keys(e.fields).length > 0 ? ` ${escapeText(safeJson(e.fields))}` : ""
    const message = String(e.message)
      .split("\n")
      .map((line) => escapeText(line))
      .join("\n    ")
    process.stderr.write(
      `[durably] ${e.level.toUpperCase()} ${message}${tags.length ? ` (${tags.join(" ")})` : ""}${fields}\n`,
    )
  }

const safeJson = (v: unknown) => {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))
  } catch {
    return String(v)
  }
}
