import { SpanStatusCode, trace } from "@opentelemetry/api"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore } from "@durably/core"
import * as EffectDurably from "@durably/core/effect"
import { testEngine } from "@durably/core/testing"
import { openTelemetry } from "../src/index.ts"
import { testSdk, type SpanView } from "./sdk.ts"

const byName = (spans: ReadonlyArray<SpanView>, name: string) => spans.filter((s) => s.name === name)
const one = (spans: ReadonlyArray<SpanView>, name: string) => {
  const found = byName(spans, name)
  expect(found, `one span named ${name} in ${spans.map((s) => s.name).join(", ")}`).toHaveLength(1)
  return found[0]!
}

describe("OpenTelemetry traces", () => {
  it("one trace from the request through the workflow, its steps (a retry), a child, and a failure", async () => {
    const sdk = testSdk()
    const tracer = sdk.tracerProvider.getTracer("app")
    const ship = defineWorkflow("ship", async (ctx, order: string) => ctx.step("label", () => `label-${order}`))
    const checkout = defineWorkflow("checkout", async (ctx, order: string) => {
      await ctx.step("reserve", () => tracer.startSpan("inventory.hold").end())
      await ctx.step(
        "charge",
        ({ attempt }) => {
          if (attempt === 1) throw new TypeError("card network down")
          return "paid"
        },
        { retry: { maxAttempts: 2, initialDelay: 5 } },
      )
      return ctx.run(ship, order)
    })
    const refund = defineWorkflow("refund", async () => {
      throw new RangeError("nothing to refund")
    })
    const durably = await Durably.launch({
      store: memoryStore(),
      workflows: [checkout, ship, refund],
      logger: false,
      heartbeat: false,
      executorId: "web-1",
      appVersion: "2026.12",
      observers: [openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider })],
    })
    try {
      const [checkoutId, refundId] = await tracer.startActiveSpan("POST /checkout", async (request) => {
        const a = await durably.start(checkout, "o-17")
        const b = await durably.start(refund, undefined)
        request.end()
        return [a.id, b.id]
      })
      expect(await durably.handle(checkoutId!).result()).toBe("label-o-17")
      expect((await durably.handle(refundId!).outcome()).status).toBe("ERROR")
      await expect.poll(() => byName(sdk.spans(), "workflow checkout").length).toBe(1)

      const spans = sdk.spans()
      const request = one(spans, "POST /checkout")
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([request.traceId]))

      const wf = one(spans, "workflow checkout")
      expect(wf.parentSpanId).toBe(request.spanId)
      expect(wf.attributes).toMatchObject({
        "durably.workflow.id": checkoutId,
        "durably.workflow.name": "checkout",
        "durably.executor.id": "web-1",
        "durably.app.version": "2026.12",
        "durably.execution.origin": "start",
        "durably.workflow.status": "SUCCESS",
      })
      expect(wf.status).toBe(SpanStatusCode.UNSET)

      const reserve = one(spans, "step reserve")
      expect(reserve.parentSpanId).toBe(wf.spanId)
      expect(reserve.attributes).toMatchObject({
        "durably.step.name": "reserve",
        "durably.step.id": 0,
        "durably.step.attempt": 1,
      })
      // The step body runs with its span active: the application's own spans nest under it.
      expect(one(spans, "inventory.hold").parentSpanId).toBe(reserve.spanId)

      const charges = byName(spans, "step charge").sort((a, b) => a.start - b.start)
      expect(charges.map((c) => [c.parentSpanId, c.attributes["durably.step.attempt"], c.status])).toEqual([
        [wf.spanId, 1, SpanStatusCode.ERROR],
        [wf.spanId, 2, SpanStatusCode.UNSET],
      ])
      expect(charges[0]!.exceptions).toEqual(["TypeError: card network down"])
      expect(charges[0]!.events).toContain("retry scheduled")
      expect(charges[0]!.attributes["durably.step.retry_in_ms"]).toBe(5)

      const start = one(spans, "start ship")
      expect(start.parentSpanId).toBe(wf.spanId)
      const child = one(spans, "workflow ship")
      expect(child.parentSpanId).toBe(start.spanId)
      expect(child.attributes["durably.workflow.parent_id"]).toBe(checkoutId)
      expect(one(spans, "step label").parentSpanId).toBe(child.spanId)
      expect(one(spans, "child result").parentSpanId).toBe(wf.spanId)

      const failed = one(spans, "workflow refund")
      expect(failed.parentSpanId).toBe(request.spanId)
      expect([failed.status, failed.statusMessage]).toEqual([SpanStatusCode.ERROR, "RangeError: nothing to refund"])
      expect(failed.exceptions).toEqual(["RangeError: nothing to refund"])
      expect(failed.attributes["durably.workflow.status"]).toBe("ERROR")

      // Metrics from the same run.
      expect(await sdk.metric("durably.workflow.ended")).toEqual(
        expect.arrayContaining([
          [{ "durably.workflow.name": "checkout", "durably.workflow.status": "SUCCESS" }, 1],
          [{ "durably.workflow.name": "ship", "durably.workflow.status": "SUCCESS" }, 1],
          [{ "durably.workflow.name": "refund", "durably.workflow.status": "ERROR" }, 1],
        ]),
      )
      expect(await sdk.metric("durably.step.retries")).toEqual([
        [{ "durably.workflow.name": "checkout", "durably.step.name": "charge" }, 1],
      ])
      const durations = await sdk.metric("durably.step.duration")
      expect(
        durations.map(([a, v]) => [a["durably.step.name"], a["durably.step.outcome"], (v as { count: number }).count]),
      ).toEqual(
        expect.arrayContaining([
          ["reserve", "ok", 1],
          ["charge", "retry", 1],
          ["charge", "ok", 1],
          ["label", "ok", 1],
        ]),
      )
      expect(await sdk.metric("durably.workflow.started")).toEqual(
        expect.arrayContaining([[{ "durably.workflow.name": "checkout", "durably.execution.origin": "start" }, 1]]),
      )
    } finally {
      await durably.shutdown()
    }
  })

  it("with no span active at the start, the workflow's span is a root; with traces off, no span and no context stored", async () => {
    const sdk = testSdk()
    const wf = defineWorkflow("solo", async (ctx) => ctx.step("only", () => 1))
    const store = memoryStore()
    const on = await Durably.launch({
      store,
      workflows: [wf],
      logger: false,
      heartbeat: false,
      observers: [openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider })],
    })
    await on.run(wf, undefined)
    await on.shutdown()
    expect(one(sdk.spans(), "workflow solo").parentSpanId).toBeUndefined()

    const quiet = testSdk()
    const offStore = memoryStore()
    const off = await Durably.launch({
      store: offStore,
      workflows: [wf],
      logger: false,
      heartbeat: false,
      observers: [openTelemetry({ traces: false, meterProvider: quiet.meterProvider })],
    })
    const h = await trace.getTracer("x").startActiveSpan("outer", async (s) => {
      const handle = await off.start(wf, undefined)
      s.end()
      return handle
    })
    await h.result()
    expect((await Effect.runPromise(offStore.getWorkflow(h.id)))?.traceContext).toBeUndefined()
    expect(quiet.spans()).toEqual([])
    expect(await quiet.metric("durably.workflow.ended")).toEqual([
      [{ "durably.workflow.name": "solo", "durably.workflow.status": "SUCCESS" }, 1],
    ])
    await off.shutdown()
  })

  it("a recovered execution continues the trace of the request that started the workflow", async () => {
    const sdk = testSdk()
    const wf = defineWorkflow("long", async (ctx) => {
      await ctx.step("first", () => 1)
      await ctx.sleep("1 hour")
      return ctx.step("second", () => 2)
    })
    const t = await testEngine({
      workflows: [wf],
      parkSleepsLongerThan: false,
      observers: [openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider })],
    })
    const h = await sdk.tracerProvider.getTracer("app").startActiveSpan("POST /long", async (request) => {
      const handle = await t.start(wf, undefined)
      request.end()
      return handle
    })
    await t.settle()
    await t.crash()
    await t.restart()
    await t.advance("1 hour")
    expect(await h.result()).toBe(2)
    const spans = sdk.spans()
    const request = one(spans, "POST /long")
    const runs = byName(spans, "workflow long").sort((a, b) => a.start - b.start)
    expect(runs.map((r) => [r.traceId, r.parentSpanId, r.attributes["durably.execution.origin"]])).toEqual([
      [request.traceId, request.spanId, "start"],
      [request.traceId, request.spanId, "recovery"],
    ])
    expect(runs.map((r) => r.attributes["durably.workflow.status"])).toEqual(["STOPPED", "SUCCESS"])
    expect(runs[1]!.attributes["durably.workflow.recorded_steps"]).toBe(2)
    // Replayed operations make no spans: "first" ran once, live, in the first execution.
    expect(byName(spans, "step first").map((s) => s.parentSpanId)).toEqual([runs[0]!.spanId])
    expect(one(spans, "step second").parentSpanId).toBe(runs[1]!.spanId)
    expect(await sdk.metric("durably.executor.recovered")).toEqual([
      [{ "durably.executor.id": "local", "durably.app.version": expect.any(String) }, 1],
    ])
  })
})

describe("OpenTelemetry in the Effect flavour", () => {
  it("Effect's own spans in a workflow are in the workflow's trace, under its execution span", async () => {
    const sdk = testSdk()
    const seen: Array<{ traceId: string; parentSpanId: string | undefined }> = []
    const wf = EffectDurably.defineWorkflow("effectful", (_ctx, n: number) =>
      Effect.gen(function* () {
        const span = yield* Effect.currentSpan
        seen.push({
          traceId: span.traceId,
          parentSpanId: span.parent._tag === "Some" ? span.parent.value.spanId : undefined,
        })
        return n * 2
      }).pipe(Effect.withSpan("pricing")),
    )
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const durably = yield* EffectDurably.Durably
        return yield* durably.run(wf, 21)
      }).pipe(
        Effect.provide(
          EffectDurably.Durably.layer({
            store: memoryStore(),
            workflows: [wf],
            logger: false,
            heartbeat: false,
            observers: [openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider })],
          }),
        ),
      ),
    )
    expect(result).toBe(42)
    const execution = one(sdk.spans(), "workflow effectful")
    expect(seen).toEqual([{ traceId: execution.traceId, parentSpanId: execution.spanId }])
  })

  it("Effect's own spans in a step body are under that step attempt's span, each attempt its own", async () => {
    const sdk = testSdk()
    const seen: Array<{ attempt: number; traceId: string; parentSpanId: string | undefined }> = []
    const wf = EffectDurably.defineWorkflow("quoting", (ctx, n: number) =>
      ctx.step(
        "quote",
        ({ attempt }) =>
          Effect.gen(function* () {
            const span = yield* Effect.currentSpan
            seen.push({
              attempt,
              traceId: span.traceId,
              parentSpanId: span.parent._tag === "Some" ? span.parent.value.spanId : undefined,
            })
            if (attempt === 1) return yield* Effect.fail("rate limited")
            return n + 1
          }).pipe(Effect.withSpan("pricing.lookup")),
        { retry: { maxAttempts: 2, initialDelay: 5 } },
      ),
    )
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const durably = yield* EffectDurably.Durably
        return yield* durably.run(wf, 41)
      }).pipe(
        Effect.provide(
          EffectDurably.Durably.layer({
            store: memoryStore(),
            workflows: [wf],
            logger: false,
            heartbeat: false,
            observers: [openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider })],
          }),
        ),
      ),
    )
    expect(result).toBe(42)
    const spans = sdk.spans()
    const execution = one(spans, "workflow quoting")
    const attempts = byName(spans, "step quote").sort(
      (a, b) => Number(a.attributes["durably.step.attempt"]) - Number(b.attributes["durably.step.attempt"]),
    )
    expect(attempts.map((a) => a.parentSpanId)).toEqual([execution.spanId, execution.spanId])
    expect(seen).toEqual([
      { attempt: 1, traceId: execution.traceId, parentSpanId: attempts[0]!.spanId },
      { attempt: 2, traceId: execution.traceId, parentSpanId: attempts[1]!.spanId },
    ])
  })
})
