/**
 * The checkout from the seed docs, with a hosted payment page: reserve stock, create a payment session, publish
 * its URL (an event the HTTP handler waits for), wait for the payment provider's webhook (a message), then
 * fulfil the order or release the stock.
 *
 * The shop (stock, payment provider, warehouse) is a fake in memory that counts what it really did, so the
 * example can show afterwards that nothing ran twice. The workflow narrates through `ctx.log`.
 */
import { defineWorkflow } from "@durably/core"

export interface Order {
  readonly id: string
  readonly items: ReadonlyArray<{ readonly sku: string; readonly qty: number }>
  readonly amountCents: number
}

/** What the payment webhook tells the workflow. */
export interface PaymentNotice {
  readonly status: "paid" | "failed"
}

export type CheckoutResult =
  | { readonly status: "fulfilled"; readonly tracking: string; readonly furtherNotices: number }
  | { readonly status: "cancelled"; readonly reason: string }

/** A fake shop: what each call did is counted in `ledger`. */
export const makeShop = () => {
  const ledger = { reservations: 0, releases: 0, paymentSessions: 0, shipments: 0 }
  const sessions = new Map<string, { readonly session: string; readonly url: string }>()
  return {
    ledger,
    reserve: (order: Order) => {
      ledger.reservations++
      return `hold-${order.id}`
    },
    release: (_hold: string) => {
      ledger.releases++
    },
    /** A hosted payment page, like a Stripe Checkout session; the idempotency key makes a retry return the same one. */
    createPaymentSession: async (order: Order, idempotencyKey: string) => {
      const existing = sessions.get(idempotencyKey)
      if (existing) return existing
      const session = `cs_test_${String(++ledger.paymentSessions).padStart(4, "0")}`
      const created = { session, url: `https://pay.example.test/checkout/${session}?amount=${order.amountCents}` }
      sessions.set(idempotencyKey, created)
      return created
    },
    ship: (order: Order) => {
      ledger.shipments++
      return `track-${order.id}`
    },
  }
}

export type Shop = ReturnType<typeof makeShop>

const dollars = (cents: number) => `$${(cents / 100).toFixed(2)}`

export const makeCheckout = (shop: Shop) =>
  defineWorkflow("payments-checkout", async (ctx, order: Order): Promise<CheckoutResult> => {
    const hold = await ctx.step("reserve-stock", () => {
      ctx.log.info(`reserved ${order.items.map((i) => `${i.qty} × ${i.sku}`).join(", ")}`)
      return shop.reserve(order)
    })
    const { url } = await ctx.step("create-payment-session", async ({ idempotencyKey }) => {
      const session = await shop.createPaymentSession(order, idempotencyKey)
      ctx.log.info(`payment session ${session.session} created for ${dollars(order.amountCents)}`)
      return session
    })
    ctx.log.info("publishing the payment URL, then waiting up to 30 s for the payment webhook")
    await ctx.setEvent("payment_url", url)

    const payment = await ctx.recv<PaymentNotice>("payment", { timeout: "30 seconds" })
    if (payment?.status !== "paid") {
      const reason = payment ? `payment ${payment.status}` : "no payment within 30 s"
      ctx.log.info(`${reason}: cancelling`)
      await ctx.step("release-stock", () => {
        shop.release(hold)
        ctx.log.info(`released ${hold}`)
      })
      return { status: "cancelled", reason }
    }
    ctx.log.info("payment received: paid")
    const tracking = await ctx.step("fulfil", () => {
      ctx.log.info(`shipped ${hold}`)
      return shop.ship(order)
    })
    // A provider may notify more than once. Listen a little longer: any further "payment" message shows up here.
    let furtherNotices = 0
    while ((await ctx.recv<PaymentNotice>("payment", { timeout: "1 second" })) !== undefined) furtherNotices++
    ctx.log.info(`${furtherNotices} further payment message(s) arrived in the next second`)
    return { status: "fulfilled", tracking, furtherNotices }
  })
