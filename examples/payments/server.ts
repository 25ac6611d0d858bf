/**
 * The shop's HTTP API (node:http, on 127.0.0.1 and a port the system picks):
 *
 * - `POST /checkout` with an order: starts the checkout workflow (the order id is the workflow id, so a
 *   retried request attaches to the same checkout), waits for it to publish its payment URL, returns it.
 * - `POST /webhook/payment` with `{ eventId, orderId, status }`: the payment provider's notification, sent to
 *   the workflow with the event id as idempotency key, so a provider that delivers an event twice delivers once.
 */
import { once } from "node:events"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { WorkflowNotFound, type Durably } from "@durably/core"
import type { makeCheckout, Order, PaymentNotice } from "./workflow.ts"

const readJson = async (req: IncomingMessage): Promise<any> => {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString("utf8"))
}

const reply = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))
}

export const startServer = async (
  durably: Durably,
  checkout: ReturnType<typeof makeCheckout>,
  say: (line: string) => void,
) => {
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    "POST /checkout": async (req, res) => {
      const order = (await readJson(req)) as Order
      await durably.start(checkout, order, { id: order.id })
      const paymentUrl = await durably.getEvent<string>(order.id, "payment_url", { timeout: "10 seconds" })
      if (paymentUrl === undefined) return reply(res, 504, { error: "no payment URL within 10 s" })
      say(`server: /checkout ${order.id}: the workflow published its payment URL`)
      reply(res, 201, { orderId: order.id, paymentUrl })
    },
    "POST /webhook/payment": async (req, res) => {
      const event = (await readJson(req)) as { eventId: string; orderId: string; status: PaymentNotice["status"] }
      try {
        const notice: PaymentNotice = { status: event.status }
        await durably.send(event.orderId, "payment", notice, { idempotencyKey: event.eventId })
      } catch (e) {
        if (e instanceof WorkflowNotFound) return reply(res, 404, { error: `no order ${event.orderId}` })
        throw e
      }
      say(`server: /webhook/payment ${event.eventId} (${event.status}) sent to ${event.orderId}`)
      reply(res, 202, { received: event.eventId })
    },
  }

  const server = createServer((req, res) => {
    const route = routes[`${req.method} ${req.url}`]
    if (!route) return reply(res, 404, { error: "not found" })
    route(req, res).catch((e: unknown) => {
      say(`server: ${req.method} ${req.url} failed: ${String(e)}`)
      reply(res, 500, { error: String(e) })
    })
  })
  server.listen(0, "127.0.0.1")
  await once(server, "listening")
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  }
}
