/**
 * The trace context stored with a workflow: the W3C `traceparent` (and `tracestate`) of the span active where
 * it was created, as JSON. Written and read here rather than through the global propagator, so that it works
 * whether or not the application registered one.
 */
import { context, ROOT_CONTEXT, trace, TraceFlags, type Context, type SpanContext } from "@opentelemetry/api"

const plainPrefix = '{"traceparent":"'
const plainLength = plainPrefix.length + 55 + 2

const traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/** The active span's context as stored text, or undefined when no valid span is active. */
export const captureActive = (): string | undefined => {
  const sc = trace.getSpanContext(context.active())
  if (!sc || !trace.isSpanContextValid(sc)) return undefined
  const flags = (sc.traceFlags & (TraceFlags.SAMPLED as number)) !== 0 ? "01" : "00"
  const state = sc.traceState?.serialize()
  // Ids and flags are hex: the common case needs no JSON encoder (it is done at every start and send).
  const parent = `{"traceparent":"00-${sc.traceId}-${sc.spanId}-${flags}"`
  return state ? `${parent},"tracestate":${JSON.stringify(state)}}` : `${parent}}`
}

/** The span context stored text describes, or undefined for text that is not one. */
export const parseCarried = (text: string | undefined): SpanContext | undefined => {
  if (text === undefined) return undefined
  // What captureActive writes, read without a JSON parse (once per execution and per received message).
  if (text.startsWith(plainPrefix) && text.length === plainLength)
    return spanContextOf(text.slice(plainPrefix.length, plainPrefix.length + 55))
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  const tp = (parsed as { traceparent?: unknown } | null)?.traceparent
  return typeof tp === "string" ? spanContextOf(tp) : undefined
}

const spanContextOf = (tp: string): SpanContext | undefined => {
  const m = traceparent.exec(tp)
  if (!m) return undefined
  const sc: SpanContext = { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) & 1, isRemote: true }
  return trace.isSpanContextValid(sc) ? sc : undefined
}

/** A context whose parent is the stored span (remote: it may have ended in another process long ago). */
export const contextOf = (carried: SpanContext | undefined): Context =>
  carried ? trace.setSpanContext(ROOT_CONTEXT, carried) : ROOT_CONTEXT
