/**
 * `pnpm example:tracing`: a small service that exports OpenTelemetry traces. An HTTP request (`POST /orders`)
 * enqueues a checkout workflow; a worker (here, the same process) claims it, reserves stock, charges the card
 * (the first attempt fails and is retried), and runs a shipping child workflow. `@durably/otel` puts all of
 * it in the request's trace, which the script prints as a waterfall when the order is done.
 *
 * Spans go to the console (the waterfall), and to an OTLP collector too when OTEL_EXPORTER_OTLP_ENDPOINT is
 * set (e.g. http://localhost:4318 for Jaeger or an OpenTelemetry Collector).
 *
 * Runs on the embedded store (PGlite in .durably/tracing, wiped first), or on Postgres when DATABASE_URL is set.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace"
import { defineWorkflow } from "@durably/core"
import { openTelemetry } from "@durably/otel"
import { defineQueue } from "@durably/scheduler"
import { setUpExample } from "../shared/setup.ts"

const { run, say, launch } = setUpExample("tracing", "OpenTelemetry: one trace from a request into its workflows")

// ---- The application's OpenTelemetry SDK (what @opentelemetry/sdk-node sets up for you) ---------------------

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
const collected = new InMemorySpanExporter()
const processors: SpanProcessor[] = [new SimpleSpanProcessor({ exporter: collected })]
const otlp = process.env["OTEL_EXPORTER_OTLP_ENDPOINT"]
if (otlp) {
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http")
  processors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter() }))
  say(`exporting to the OTLP collector at ${otlp} too`)
}
const tracerProvider = new TracerProvider({ spanProcessors: processors })
trace.setGlobalTracerProvider(tracerProvider)
const tracer = trace.getTracer("shop")

// ---- Workflows ---------------------------------------------------------------------------------------------

const orders = defineQueue("orders", { concurrency: 10 })

const ship = defineWorkflow("ship", async (ctx, orderId: string) => {
  const label = await ctx.step("print label", async () => {
    await pause(30)
    return `label-${orderId}`
  })
  await ctx.sleep("50 millis")
  return label
})

const checkout = defineWorkflow("checkout", async (ctx, orderId: string) => {
  await ctx.step("reserve stock", () => pause(20))
  await ctx.step(
    "charge card",
    async ({ attempt }) => {
      // The application's own spans inside a step join the trace under the step's span.
      await tracer.startActiveSpan("POST payments.example/charges", { kind: SpanKind.CLIENT }, async (span) => {
        await pause(40)
        span.end()
      })
      if (attempt === 1) throw new Error("payment gateway timed out")
      return "ch_3PqX"
    },
    { retry: { maxAttempts: 3, initialDelay: "100 millis" } },
  )
  return ctx.run(ship, orderId)
})

const pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// ---- The service: an HTTP endpoint that enqueues, and a worker serving the queue ---------------------------

const durably = await launch({ workflows: [checkout, ship], queues: [orders], observers: [openTelemetry()] })

const server = createServer((req, res) => {
  // Without HTTP auto-instrumentation, the request span is made by hand; with it, it exists already.
  void tracer.startActiveSpan(`${req.method} ${req.url}`, { kind: SpanKind.SERVER }, async (span) => {
    try {
      const handle = await durably.enqueue(orders, checkout, `o-42${run}`, { id: `order-42${run}` })
      res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ id: handle.id }))
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(e) })
      res.writeHead(500).end(String(e))
    } finally {
      span.end()
    }
  })
})
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
const { port } = server.address() as AddressInfo
say(`service listening on http://127.0.0.1:${port}`)

let exitCode = 0
try {
  const answer = (await (await fetch(`http://127.0.0.1:${port}/orders`, { method: "POST" })).json()) as { id: string }
  say(`POST /orders → 202 ${JSON.stringify(answer)}`)
  say(`order finished: ${String(await durably.handle(answer.id).result())}`)
  await tracerProvider.forceFlush()
  const spans = collected.getFinishedSpans()
  const traces = new Set(spans.map((s) => s.spanContext().traceId))
  console.log(
    `\nThe trace (${spans.length} spans, ${traces.size === 1 ? "one trace id" : `${traces.size} trace ids!`}):\n`,
  )
  console.log(waterfall(spans))
  if (traces.size !== 1) exitCode = 1
} finally {
  server.close()
  await durably.shutdown()
  await tracerProvider.shutdown()
}
process.exit(exitCode)

/** Spans as a tree, each with a bar placed on the trace's time line. */
function waterfall(spans: ReadonlyArray<ReadableSpan>): string {
  const ms = (t: readonly [number, number]) => t[0] * 1000 + t[1] / 1e6
  const t0 = Math.min(...spans.map((s) => ms(s.startTime)))
  const t1 = Math.max(...spans.map((s) => ms(s.endTime)))
  const width = 40
  const scale = width / Math.max(1, t1 - t0)
  const children = new Map<string | undefined, ReadableSpan[]>()
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  for (const s of spans) {
    const parent = s.parentSpanContext?.spanId
    const key = parent && ids.has(parent) ? parent : undefined
    children.set(key, [...(children.get(key) ?? []), s])
  }
  const lines: string[] = []
  const walk = (parent: string | undefined, depth: number) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => ms(a.startTime) - ms(b.startTime))) {
      const start = Math.round((ms(s.startTime) - t0) * scale)
      const length = Math.max(1, Math.round((ms(s.endTime) - ms(s.startTime)) * scale))
      const bar = " ".repeat(start) + "█".repeat(Math.min(length, width - start))
      const failed = s.status.code === SpanStatusCode.ERROR ? "  ✗ " + (s.status.message ?? "") : ""
      const label = `${"  ".repeat(depth)}${s.name}`.padEnd(42)
      lines.push(
        `${label} ${bar.padEnd(width)} ${(ms(s.endTime) - ms(s.startTime)).toFixed(0).padStart(4)} ms${failed}`,
      )
      walk(s.spanContext().spanId, depth + 1)
    }
  }
  walk(undefined, 0)
  return lines.join("\n")
}
