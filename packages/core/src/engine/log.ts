/** Log entries from the engine and from `ctx.log`. A sink is a plain function, so any logger plugs in. */
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

/** One line per entry on stderr, from `minLevel` up. */
export const consoleLogger =
  (minLevel: LogLevel = "info"): LogSink =>
  (e) => {
    if (order[e.level] < order[minLevel]) return
    const tags = [
      e.event && `event=${e.event}`,
      e.workflowName && `workflow=${e.workflowName}`,
      e.workflowId && `id=${e.workflowId}`,
      e.step && `step=${e.step}`,
    ].filter(Boolean)
    const fields = e.fields && Object.keys(e.fields).length > 0 ? ` ${safeJson(e.fields)}` : ""
    process.stderr.write(
      `[durably] ${e.level.toUpperCase()} ${e.message}${tags.length ? ` (${tags.join(" ")})` : ""}${fields}\n`,
    )
  }

const safeJson = (v: unknown) => {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))
  } catch {
    return String(v)
  }
}
