/**
 * `openTelemetry()` in a process with no SDK registered: it records nothing, but a trace that came in with a
 * workflow still flows on to the children it starts; with no trace to carry on, it does not watch at all.
 */
import { context, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore } from "@durably/core"
import { openTelemetry } from "../src/index.ts"
import "./sdk.ts" // the process-wide context manager an application registers, and no tracer provider

const kid = defineWorkflow("kid", async (ctx) => ctx.step("work", () => "done"))
const parent = defineWorkflow("parent", async (ctx) => {
  const child = await ctx.start(kid, undefined)
  await child.result()
  return child.id
})

const incoming = {
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  traceFlags: TraceFlags.SAMPLED,
}

describe("OpenTelemetry with no SDK registered", () => {
  it("a trace that came in with the workflow is carried on to its children; none, and nothing is carried", async () => {
    const store = memoryStore()
    const durably = await Durably.launch({
      store,
      workflows: [parent, kid],
      logger: false,
      heartbeat: false,
      observers: [openTelemetry()],
    })
    try {
      // Created inside a trace (as a request instrumented elsewhere would be): the child carries that trace.
      const traced = await context.with(trace.setSpanContext(ROOT_CONTEXT, incoming), () =>
        durably.start(parent, undefined),
      )
      const tracedChild = await traced.result()
      const stored = async (id: string) => (await Effect.runPromise(store.getWorkflow(id)))?.traceContext
      expect(await stored(traced.id)).toContain(`00-${incoming.traceId}-${incoming.spanId}-01`)
      expect(await stored(tracedChild)).toContain(`00-${incoming.traceId}-${incoming.spanId}-01`)

      // Created outside any trace: nothing to carry, to the workflow or to its child.
      const plain = await durably.start(parent, undefined)
      const plainChild = await plain.result()
      expect(await stored(plain.id)).toBeUndefined()
      expect(await stored(plainChild)).toBeUndefined()
    } finally {
      await durably.shutdown()
    }
  })

  it("an execution with no trace to carry on is not watched: its steps cost what they cost without an observer", () => {
    const observer = openTelemetry({ metrics: false })
    const info = {
      workflowId: "w",
      workflowName: "parent",
      executorId: "e",
      appVersion: "1",
      origin: "start" as const,
      recoveryAttempts: 0,
      recordedSteps: 0,
      input: "null",
    }
    expect(observer.execution?.(info)).toBeUndefined()
    const carried = `{"traceparent":"00-${incoming.traceId}-${incoming.spanId}-01"}`
    expect(observer.execution?.({ ...info, carried })).toBeDefined()
  })
})
