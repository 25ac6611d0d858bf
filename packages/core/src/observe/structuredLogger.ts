/**
 * Lifecycle and `ctx.log` entries into a structured logger whose methods take `(fields, message)`: pino's
 * shape (and bunyan's), so `logger: structuredLogger(pino())` sends Durably's logs through your pino, with
 * its levels, serializers and transports. Nothing of pino is imported: any object of that shape works.
 */
import type { LogEntry, LogLevel, LogSink } from "../engine/log.ts"

/** A logger with a method per level taking an object of fields and a message. */
export type StructuredLogger = {
  readonly [L in LogLevel]: (fields: Record<string, unknown>, message: string) => void
}

/** The entry's fields, flattened for a structured logger: its own tags first, then the entry's fields. */
export const entryFields = (e: LogEntry): Record<string, unknown> => ({
  ...(e.event === undefined ? {} : { event: e.event }),
  ...(e.workflowId === undefined ? {} : { workflowId: e.workflowId }),
  ...(e.workflowName === undefined ? {} : { workflowName: e.workflowName }),
  ...(e.step === undefined ? {} : { step: e.step }),
  ...e.fields,
})

export const structuredLogger =
  (target: StructuredLogger): LogSink =>
  (e) =>
    target[e.level](entryFields(e), e.message)
