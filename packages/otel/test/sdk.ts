/** A real OpenTelemetry SDK for tests: spans into an in-memory exporter, metrics collected on demand. */
import { context, type HrTime } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { MeterProvider, MetricReader, type DataPoint, type Histogram } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from "@opentelemetry/sdk-trace"

// The context manager is process-wide (there is one active context): the same one an application's SDK sets.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

class OnDemandReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve()
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
}

export interface SpanView {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
  readonly attributes: Record<string, unknown>
  readonly status: number
  readonly statusMessage: string | undefined
  readonly events: ReadonlyArray<string>
  readonly exceptions: ReadonlyArray<string>
  readonly start: number
}

const ms = (t: HrTime) => t[0] * 1000 + t[1] / 1e6

export const view = (s: ReadableSpan): SpanView => ({
  name: s.name,
  traceId: s.spanContext().traceId,
  spanId: s.spanContext().spanId,
  parentSpanId: s.parentSpanContext?.spanId,
  links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
  attributes: { ...s.attributes },
  status: s.status.code,
  statusMessage: s.status.message,
  events: s.events.map((e) => e.name),
  exceptions: s.events
    .filter((e) => e.name === "exception")
    .map((e) => `${String(e.attributes?.["exception.type"])}: ${String(e.attributes?.["exception.message"])}`),
  start: ms(s.startTime),
})

export const testSdk = () => {
  const exporter = new InMemorySpanExporter()
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
  const reader = new OnDemandReader()
  const meterProvider = new MeterProvider({ readers: [reader] })
  return {
    tracerProvider,
    meterProvider,
    spans: () => exporter.getFinishedSpans().map(view),
    /** Every data point of a metric, as [attributes, value] (histograms: their count and sum). */
    metric: async (name: string) => {
      const { resourceMetrics } = await reader.collect()
      const found = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === name)
      return (found?.dataPoints ?? []).map((p: DataPoint<unknown>) => {
        const v = p.value as number | Histogram
        return [{ ...p.attributes }, typeof v === "number" ? v : { count: v.count, sum: v.sum }] as const
      })
    },
  }
}
