/**
 * The traced pipeline of the cross-process OpenTelemetry test: an order, enqueued by a web process, runs on
 * an "orders" worker; it prices the order (a step that fails once, then is retried), enqueues its shipment
 * on the "shipping" queue, which only another worker serves, sends it the go-ahead (a message), and awaits it.
 */
import { defineWorkflow } from "@durably/core"
import { defineQueue } from "@durably/scheduler"

export const ordersQueue = (name: string) => defineQueue(name, {})
export const shippingQueue = (name: string) => defineQueue(name, {})

export const tracedWorkflows = (queues: { readonly orders: string; readonly shipping: string }) => {
  const ship = defineWorkflow("ship", async (ctx, order: string) => {
    await ctx.recv("go")
    return ctx.step("label", () => `label-${order}`)
  })
  const order = defineWorkflow("order", async (ctx, id: string) => {
    await ctx.step(
      "price",
      ({ attempt }) => {
        if (attempt === 1) throw new Error("price service unavailable")
        return 42
      },
      { retry: { maxAttempts: 2, initialDelay: 10 } },
    )
    const shipment = await ctx.enqueue(shippingQueue(queues.shipping), ship, id)
    await ctx.send(shipment.id, "go", true)
    return shipment.result()
  })
  return { order, ship }
}

/** A finished span as a worker reports it. */
export interface SpanLine {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  /** The spans it links to (a recv: where its message was sent). */
  readonly links: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
  readonly attributes: Record<string, unknown>
  readonly status: number
  readonly pid: number
}

export interface TracedEvents {
  readonly READY: { readonly pid: number }
  readonly SPAN: SpanLine
  readonly STOPPED: { readonly pid: number }
}
