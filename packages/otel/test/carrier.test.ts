/** The stored trace context: what captureActive writes, parseCarried reads back, with or without tracestate. */
import { context, ROOT_CONTEXT, trace, TraceFlags, createTraceState } from "@opentelemetry/api"
import { describe, expect, it } from "vitest"
import { captureActive, parseCarried } from "../src/index.ts"
import "./sdk.ts"

const sc = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: TraceFlags.SAMPLED }
const capturedWith = (spanContext: Parameters<typeof trace.setSpanContext>[1]) =>
  context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), captureActive)

describe("the carried trace context", () => {
  it("round-trips a span context, sampled or not, with or without tracestate", () => {
    const plain = capturedWith(sc)
    expect(JSON.parse(plain!)).toEqual({ traceparent: `00-${sc.traceId}-${sc.spanId}-01` })
    expect(parseCarried(plain)).toEqual({ ...sc, traceFlags: 1, isRemote: true })
    const unsampled = capturedWith({ ...sc, traceFlags: TraceFlags.NONE })
    expect(parseCarried(unsampled)?.traceFlags).toBe(0)
    const withState = capturedWith({ ...sc, traceState: createTraceState('vendor=a"b,other=c') })
    expect(JSON.parse(withState!)).toEqual({
      traceparent: `00-${sc.traceId}-${sc.spanId}-01`,
      tracestate: 'vendor=a"b,other=c',
    })
    expect(parseCarried(withState)?.spanId).toBe(sc.spanId)
  })

  it("nothing active carries nothing; text that is not a context reads as none", () => {
    expect(captureActive()).toBeUndefined()
    for (const text of [
      undefined,
      "",
      "not json",
      "{}",
      '{"traceparent":"00-00000000000000000000000000000000-b7ad6b7169203331-01"}',
      '{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333X-01"}',
    ])
      expect(parseCarried(text)).toBeUndefined()
  })
})
