/**
 * A message carries the trace context of where it was sent (`durably.send` in a request, or a workflow's
 * `ctx.send`), and the `recv` that consumes it links to that span: OpenTelemetry's messaging convention (the
 * receiver keeps its own parent). Across processes: test/durability/otel.test.ts.
 */
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore } from "@durably/core"
import { openTelemetry } from "../src/index.ts"
import { testSdk, type SpanView } from "./sdk.ts"

const named = (spans: ReadonlyArray<SpanView>, name: string) => spans.filter((s) => s.name === name)

describe("OpenTelemetry: messages", () => {
  it("a recv links to the span that sent its message, from a request or from another workflow", async () => {
    const sdk = testSdk()
    const tracer = sdk.tracerProvider.getTracer("app")
    const waiter = defineWorkflow("waiter", async (ctx) => ctx.recv<number>("go"))
    const sender = defineWorkflow("sender", async (ctx, to: string) => ctx.send(to, "go", 2))
    const durably = await Durably.launch({
      store: memoryStore(),
      workflows: [waiter, sender],
      logger: false,
      heartbeat: false,
      observers: [openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider })],
    })
    try {
      // Started with no span active: each waiter's own trace is a root of its own.
      const fromRequest = await durably.start(waiter, undefined)
      const fromWorkflow = await durably.start(waiter, undefined)
      const silent = await durably.start(waiter, undefined)
      await tracer.startActiveSpan("POST /approve", async (request) => {
        await durably.send(fromRequest.id, "go", 1)
        request.end()
      })
      await tracer.startActiveSpan("POST /forward", async (request) => {
        await (await durably.start(sender, fromWorkflow.id)).result()
        request.end()
      })
      await durably.send(silent.id, "go", 3)
      expect([await fromRequest.result(), await fromWorkflow.result(), await silent.result()]).toEqual([1, 2, 3])
      await expect.poll(() => named(sdk.spans(), "recv go").length).toBe(3)

      const spans = sdk.spans()
      const execution = (id: string) =>
        spans.find((s) => s.name === "workflow waiter" && s.attributes["durably.workflow.id"] === id)!
      const recvOf = (id: string) => named(spans, "recv go").find((s) => s.parentSpanId === execution(id).spanId)!

      const approve = named(spans, "POST /approve")[0]!
      const a = recvOf(fromRequest.id)
      expect(a.traceId).not.toBe(approve.traceId)
      expect(a.links).toEqual([{ traceId: approve.traceId, spanId: approve.spanId }])

      const send = named(spans, "send go")[0]!
      expect(send.traceId).toBe(named(spans, "POST /forward")[0]!.traceId)
      const b = recvOf(fromWorkflow.id)
      expect(b.links).toEqual([{ traceId: send.traceId, spanId: send.spanId }])

      // Sent with no span active: nothing to link to.
      expect(recvOf(silent.id).links).toEqual([])
    } finally {
      await durably.shutdown()
    }
  })
})
