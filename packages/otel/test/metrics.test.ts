/**
 * The metrics the issue lists, read with the SDK's metric reader: queue wait and depth, takeovers, fenced
 * writes and DEAD workflows (workflows started and ended, step durations and retries, and recoveries are
 * checked in tracing.test.ts).
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore } from "@durably/core"
import { testEngine } from "@durably/core/testing"
import { defineQueue } from "@durably/scheduler"
import { openTelemetry } from "../src/index.ts"
import { testSdk } from "./sdk.ts"

const depthOf = async (sdk: ReturnType<typeof testSdk>, queue: string) =>
  Object.fromEntries(
    (await sdk.metric("durably.queue.depth"))
      .filter(([a]) => a["messaging.destination.name"] === queue)
      .map(([a, v]) => [a["durably.queue.state"], v]),
  )

describe("OpenTelemetry metrics", () => {
  it("queue depth is a gauge per queue and state, and the wait from enqueue to claim a histogram", async () => {
    const store = memoryStore()
    const sdk = testSdk()
    const emails = defineQueue("emails")
    const send = defineWorkflow("send-email", async (ctx, to: string) => ctx.step("deliver", () => `sent ${to}`))
    const observers = [openTelemetry({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider })]
    // A web process that only enqueues: the work waits until a worker serves the queue.
    const web = await Durably.launch({
      store,
      workflows: [send],
      queues: [emails],
      serveQueues: false,
      executorId: "web",
      logger: false,
      heartbeat: false,
      observers,
    })
    const now = [await web.enqueue(emails, send, "a"), await web.enqueue(emails, send, "b")]
    await web.enqueue(emails, send, "later", { delay: "1 hour" })
    expect(await depthOf(sdk, "emails")).toEqual({ enqueued: 2, delayed: 1, running: 0 })

    const worker = await Durably.launch({
      store,
      workflows: [send],
      queues: [emails],
      executorId: "worker",
      logger: false,
      heartbeat: false,
      observers,
    })
    try {
      for (const h of now) await h.result()
      await expect.poll(() => depthOf(sdk, "emails")).toEqual({ enqueued: 0, delayed: 1, running: 0 })
      const waits = await sdk.metric("durably.queue.wait")
      expect(waits).toEqual([
        [
          { "durably.workflow.name": "send-email", "messaging.destination.name": "emails" },
          { count: 2, sum: expect.any(Number) },
        ],
      ])
      expect((waits[0]![1] as { sum: number }).sum).toBeGreaterThanOrEqual(0)
    } finally {
      await worker.shutdown()
      await web.shutdown()
    }
  })

  it("no depth gauge with queueDepth: false", async () => {
    const sdk = testSdk()
    const emails = defineQueue("emails")
    const send = defineWorkflow("send-email", async () => "ok")
    const durably = await Durably.launch({
      store: memoryStore(),
      workflows: [send],
      queues: [emails],
      serveQueues: false,
      logger: false,
      heartbeat: false,
      observers: [openTelemetry({ meterProvider: sdk.meterProvider, traces: false, queueDepth: false })],
    })
    await durably.enqueue(emails, send, undefined)
    expect(await sdk.metric("durably.queue.depth")).toEqual([])
    await durably.shutdown()
  })

  it("takeovers of a silent executor's workflows are counted", async () => {
    const sdk = testSdk()
    const store = memoryStore()
    const quick = defineWorkflow("quick", async (ctx, n: number) => ctx.step("double", () => n * 2))
    // Owned by an executor that never heartbeats: the first takeover takes it.
    await Effect.runPromise(
      store.createWorkflow({ id: "held", name: quick.name, input: "21", appVersion: "v1", executorId: "ghost" }),
    )
    const durably = await Durably.launch({
      store,
      workflows: [quick],
      appVersion: "v1",
      executorId: "survivor",
      heartbeat: { interval: 50, lease: 300 },
      logger: false,
      observers: [openTelemetry({ meterProvider: sdk.meterProvider, traces: false })],
    })
    try {
      expect(await durably.handle<number>("held").result()).toBe(42)
      expect(await sdk.metric("durably.executor.took_over")).toEqual([
        [{ "durably.executor.id": "survivor", "durably.app.version": "v1" }, 1],
      ])
      expect(await sdk.metric("durably.workflow.started")).toEqual([
        [{ "durably.workflow.name": "quick", "durably.execution.origin": "takeover" }, 1],
      ])
    } finally {
      await durably.shutdown()
    }
  })

  it("a write fenced by another executor's claim is counted, by workflow name", async () => {
    const sdk = testSdk()
    const store = memoryStore()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const wf = defineWorkflow("contested", async (ctx) => ctx.step("slow", () => gate))
    const durably = await Durably.launch({
      store,
      workflows: [wf],
      logger: false,
      heartbeat: false,
      executorId: "a",
      observers: [openTelemetry({ meterProvider: sdk.meterProvider, traces: false })],
    })
    const h = await durably.start(wf, undefined)
    await Effect.runPromise(store.claimWorkflow(h.id, "b", { countRecovery: true, maxRecoveryAttempts: 5 }))
    release()
    await expect
      .poll(() => sdk.metric("durably.workflow.fenced"))
      .toEqual([[{ "durably.workflow.name": "contested" }, 1]])
    expect(await sdk.metric("durably.workflow.ended")).toEqual([
      [{ "durably.workflow.name": "contested", "durably.workflow.status": "STOPPED" }, 1],
    ])
    await durably.shutdown()
  })

  it("a workflow marked DEAD is counted", async () => {
    const sdk = testSdk()
    const wf = defineWorkflow("crashy", async (ctx) => {
      await ctx.step("first", () => 1)
      await ctx.sleep("1 hour")
    })
    const t = await testEngine({
      workflows: [wf],
      maxRecoveryAttempts: 2,
      parkSleepsLongerThan: false,
      observers: [openTelemetry({ meterProvider: sdk.meterProvider, traces: false })],
    })
    const h = await t.start(wf, undefined)
    await t.settle()
    for (let i = 0; i < 3; i++) await t.restart()
    expect((await h.outcome()).status).toBe("DEAD")
    expect(await sdk.metric("durably.workflow.dead")).toEqual([
      [
        {
          "durably.executor.id": "local",
          "durably.app.version": expect.any(String),
          "durably.workflow.name": "crashy",
        },
        1,
      ],
    ])
  })
})
