/**
 * @durably/otel — OpenTelemetry traces and metrics for Durably, through `@opentelemetry/api` only (a peer
 * dependency): your application's SDK decides where they go.
 *
 * ```ts
 * import { openTelemetry } from "@durably/otel"
 * const durably = await Durably.launch({ store, workflows, observers: [openTelemetry()] })
 * ```
 */
export { openTelemetry, attr, type OpenTelemetryOptions } from "./observer.ts"
export { captureActive, parseCarried } from "./carrier.ts"
