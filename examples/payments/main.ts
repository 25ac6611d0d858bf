/**
 * `pnpm example:payments`: a checkout behind a hosted payment page. The shop's HTTP server (server.ts) starts
 * the checkout workflow (workflow.ts) on `POST /checkout` and answers with the payment URL the workflow
 * publishes; the payment provider reports back on `POST /webhook/payment`. This script plays the customer and
 * the provider with fetch:
 *
 * 1. order A is paid, and the provider delivers its webhook twice with the same event id (providers retry
 *    when they miss an acknowledgement): the workflow receives the payment once and ships;
 * 2. order B's payment is declined: the workflow releases the stock and cancels.
 *
 * Runs on the embedded store (PGlite in .durably/payments, wiped first), or on Postgres when DATABASE_URL is
 * set (with workflow ids of this run's own, as that database is not wiped).
 */
import { setUpExample } from "../shared/setup.ts"
import { startServer } from "./server.ts"
import { makeCheckout, makeShop, type CheckoutResult, type Order } from "./workflow.ts"

const { run, say, launch } = setUpExample("payments", "checkout with a payment URL and a payment webhook")

const shop = makeShop()
const checkout = makeCheckout(shop)
const durably = await launch({ workflows: [checkout] })
const server = await startServer(durably, checkout, say)
say(`engine launched; shop API on ${server.url}`)

const post = async (path: string, body: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, string> }
}

/** Check out `order`, then have the provider report `status` for it `deliveries` times with one event id. */
const buy = async (order: Order, status: "paid" | "failed", deliveries: number) => {
  say(`customer: POST /checkout ${order.id}`)
  const checkoutReply = await post("/checkout", order)
  say(`customer: HTTP ${checkoutReply.status}, redirected to ${checkoutReply.body["paymentUrl"]}`)
  const eventId = `evt_${order.id}`
  say(`customer: ${status === "paid" ? "pays" : "pays with a card that is declined"}`)
  for (let n = 1; n <= deliveries; n++) {
    const webhook = await post("/webhook/payment", { eventId, orderId: order.id, status })
    say(`provider: webhook delivery ${n} of ${eventId} (${status}): HTTP ${webhook.status}`)
  }
  const result = await durably.handle<CheckoutResult>(order.id).result()
  say(`${order.id} finished: ${JSON.stringify(result)}`)
  return result
}

console.log("Order A: paid; the provider delivers the webhook twice with the same event id")
const a = await buy({ id: `order-A${run}`, items: [{ sku: "book", qty: 2 }], amountCents: 4999 }, "paid", 2)
console.log("\nOrder B: the payment is declined")
await buy({ id: `order-B${run}`, items: [{ sku: "lamp", qty: 1 }], amountCents: 2500 }, "failed", 1)

await server.close()
await durably.shutdown()

const { reservations, paymentSessions, shipments, releases } = shop.ledger
console.log(
  `\nShop ledger: ${reservations} reservations, ${paymentSessions} payment sessions, ${shipments} shipment(s), ${releases} release(s).`,
)
if (a.status === "fulfilled")
  console.log(
    a.furtherNotices === 0
      ? "Order A's workflow received exactly one payment message: the second delivery of the same event id was dropped."
      : `Order A's workflow received ${a.furtherNotices + 1} payment messages: the duplicate webhook was delivered again.`,
  )
