/**
 * Lifecycle and `ctx.log` entries through Effect's `Logger`: the default of `Durably.layer`, so the loggers,
 * format and `References.MinimumLogLevel` of the context the layer is built in decide what is printed. The
 * entry's tags and fields become log annotations.
 */
import { Effect, type Context } from "effect"
import type { LogLevel, LogSink } from "../engine/log.ts"
import { entryFields } from "../observe/structuredLogger.ts"

const severity = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const satisfies Record<
  LogLevel,
  string
>

/** A sink that logs with the loggers of `services` (the context `Durably.layer` is built in). */
export const effectLogSink =
  (services: Context.Context<never>): LogSink =>
  (e) =>
    Effect.runSyncWith(services)(
      Effect.logWithLevel(severity[e.level])(e.message).pipe(Effect.annotateLogs(entryFields(e))),
    )
