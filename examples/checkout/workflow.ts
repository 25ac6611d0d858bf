/**
 * The order checkout from the seed docs: reserve stock, charge the card (a flaky provider, retried with an
 * idempotency key so a retry never charges twice), wait out a cooling-off period, then ship.
 */
import { defineWorkflow } from "@durably/core"

export interface Order {
  readonly id: string
  readonly items: ReadonlyArray<{ readonly sku: string; readonly qty: number }>
  readonly amountCents: number
}

/** A fake payment provider: fails the first call for each key, and remembers keys so it never charges twice. */
export const makePayments = () => {
  const charges = new Map<string, string>()
  const seen = new Set<string>()
  return {
    charges,
    charge: async (order: Order, idempotencyKey: string) => {
      const existing = charges.get(idempotencyKey)
      if (existing) return existing
      if (!seen.has(idempotencyKey)) {
        seen.add(idempotencyKey)
        throw new Error("payment provider timed out (simulated)")
      }
      const receipt = `rcpt-${order.id}-${charges.size + 1}`
      charges.set(idempotencyKey, receipt)
      return receipt
    },
  }
}

export const makeCheckout = (payments: ReturnType<typeof makePayments>, say: (line: string) => void) =>
  defineWorkflow("checkout", async (ctx, order: Order) => {
    const hold = await ctx.step("reserve-stock", () => {
      say(`  [${order.id}] step reserve-stock: holding ${order.items.length} item(s)`)
      return `hold-${order.id}`
    })
    const receipt = await ctx.step(
      "charge",
      async ({ attempt, idempotencyKey }) => {
        say(`  [${order.id}] step charge: attempt ${attempt} (idempotency key ${idempotencyKey})`)
        return payments.charge(order, idempotencyKey)
      },
      { retry: { maxAttempts: 5, initialDelay: "200 millis", backoff: 2 }, timeout: "10 seconds" },
    )
    await ctx.sleep("500 millis") // a durable cooling-off period: survives restarts
    const tracking = await ctx.step("ship", () => {
      say(`  [${order.id}] step ship`)
      return `track-${order.id}`
    })
    return { hold, receipt, tracking }
  })
