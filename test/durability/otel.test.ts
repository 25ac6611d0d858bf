/**
 * One trace across processes: a request span in this process (the web server) enqueues an order; a worker
 * process runs it (a step retried once), enqueues its shipment on a queue only a second worker serves, and
 * sends it a message. Every span, from three processes and two queues, is in the request's trace, each under
 * the right parent, and the shipment's recv links to the order's send in the other process.
 */
import { context, SpanStatusCode } from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { Durably } from "@durably/core"
import { openTelemetry } from "@durably/otel"
import { postgresStore } from "@durably/postgres"
import { databaseUrl, dropSchema, freshSchema } from "../../packages/postgres/test/pg.ts"
import { killAllFixtures, spawnFixture, type FixtureProcess } from "./support/fixtureProcess.ts"
import { ordersQueue, shippingQueue, tracedWorkflows, type SpanLine, type TracedEvents } from "./support/traced.ts"

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())

const schema = freshSchema("otel")
let url = ""
afterAll(async () => {
  if (url) await dropSchema(url, schema)
})
afterEach(killAllFixtures)

describe("OpenTelemetry across processes", () => {
  it("a request's trace follows its workflow across two queues into two worker processes", async () => {
    url = await databaseUrl()
    const queues = { orders: "orders", shipping: "shipping" }
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] })
    const { order, ship } = tracedWorkflows(queues)
    // The web process: enqueues only (serves no queue), and migrates the schema before the workers start.
    const web = await Durably.launch({
      store: postgresStore({ url, schema, max: 2 }),
      workflows: [order, ship],
      queues: [ordersQueue(queues.orders), shippingQueue(queues.shipping)],
      serveQueues: false,
      executorId: "web",
      appVersion: "otel-test",
      logger: false,
      heartbeat: false,
      observers: [openTelemetry({ tracerProvider, metrics: false })],
    })
    const workers: Array<FixtureProcess<TracedEvents>> = (["orders", "shipping"] as const).map((serve) =>
      spawnFixture<TracedEvents>(
        "tracedWorker.ts",
        { url, schema, executorId: `worker-${serve}`, queues, serve },
        `${serve} worker`,
      ),
    )
    try {
      for (const w of workers) await w.waitForEvent("READY", undefined, { timeoutMs: 60_000 })
      const handle = await tracerProvider.getTracer("web").startActiveSpan("POST /orders", async (request) => {
        try {
          return await web.enqueue(ordersQueue(queues.orders), order, "o-9")
        } finally {
          request.end()
        }
      })
      expect(await handle.result()).toBe("label-o-9")
      const [orders, shipping] = workers as [FixtureProcess<TracedEvents>, FixtureProcess<TracedEvents>]
      // Spans are exported when they end: the workflows' own spans end just after their results are stored.
      await shipping.waitForEvent("SPAN", (s) => s.name === "workflow ship", { timeoutMs: 30_000 })
      await orders.waitForEvent("SPAN", (s) => s.name === "workflow order", { timeoutMs: 30_000 })

      const request = exporter.getFinishedSpans().find((s) => s.name === "POST /orders")!
      const remote = [...orders.events("SPAN"), ...shipping.events("SPAN")]
      const one = (name: string): SpanLine => {
        const found = remote.filter((s) => s.name === name)
        expect(found, `one ${name} in ${remote.map((s) => s.name).join(", ")}`).toHaveLength(1)
        return found[0]!
      }
      const traceId = request.spanContext().traceId
      expect(new Set(remote.map((s) => s.traceId))).toEqual(new Set([traceId]))

      // Orders worker: the order's execution under the request, its queue wait beside it, its steps inside.
      const orderSpan = one("workflow order")
      expect(orderSpan.pid).toBe(orders.pid)
      expect(orderSpan.parentSpanId).toBe(request.spanContext().spanId)
      expect(orderSpan.attributes).toMatchObject({
        "durably.execution.origin": "queue",
        "messaging.destination.name": "orders",
        "durably.executor.id": "worker-orders",
        "durably.workflow.status": "SUCCESS",
      })
      expect(one("queue orders").parentSpanId).toBe(request.spanContext().spanId)
      const prices = remote.filter((s) => s.name === "step price")
      expect(prices.map((s) => [s.parentSpanId, s.attributes["durably.step.attempt"], s.status]).sort()).toEqual([
        [orderSpan.spanId, 1, SpanStatusCode.ERROR],
        [orderSpan.spanId, 2, SpanStatusCode.UNSET],
      ])
      const enqueue = one("enqueue ship")
      expect(enqueue.parentSpanId).toBe(orderSpan.spanId)

      // Shipping worker, another process: the child's execution under the enqueue that made it.
      const shipSpan = one("workflow ship")
      expect(shipSpan.pid).toBe(shipping.pid)
      expect(shipSpan.parentSpanId).toBe(enqueue.spanId)
      expect(shipSpan.attributes).toMatchObject({
        "durably.execution.origin": "queue",
        "messaging.destination.name": "shipping",
        "durably.workflow.parent_id": handle.id,
      })
      expect(one("queue shipping").parentSpanId).toBe(enqueue.spanId)
      expect(one("step label").parentSpanId).toBe(shipSpan.spanId)
      expect(one("child result").parentSpanId).toBe(orderSpan.spanId)

      // The message: sent from the orders worker, received in the shipping worker, linked across them.
      const sent = one("send go")
      expect(sent.pid).toBe(orders.pid)
      expect(sent.parentSpanId).toBe(orderSpan.spanId)
      const received = one("recv go")
      expect(received.pid).toBe(shipping.pid)
      expect(received.parentSpanId).toBe(shipSpan.spanId)
      expect(received.links).toEqual([{ traceId, spanId: sent.spanId }])
    } finally {
      for (const w of workers) await w.stop()
      await web.shutdown()
    }
  })
})
