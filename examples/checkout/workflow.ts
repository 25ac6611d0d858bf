/**
 * The order checkout from the seed docs: reserve stock, charge the card (a flaky provider, retried with an
 * idempotency key so a retry never charges twice), wait out a cooling-off period, then ship.
 *
 * Every step says what it does through `ctx.log`, which is quiet while a recovered workflow replays, so the
 * log is a ledger of what really ran.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { defineWorkflow } from "@durably/core"

export interface Order {
  readonly id: string
  readonly items: ReadonlyArray<{ readonly sku: string; readonly qty: number }>
  readonly amountCents: number
}

interface ProviderState {
  readonly seen: string[]
  readonly charges: Record<string, string>
}

/**
 * A fake payment provider that keeps its books in a file, so they outlive the processes that call it. It
 * times out on the first call for each idempotency key, and never charges one key twice.
 */
export const makePayments = (file: string) => {
  const load = (): ProviderState =>
    existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as ProviderState) : { seen: [], charges: {} }
  const save = (state: ProviderState) => writeFileSync(file, JSON.stringify(state))
  return {
    charges: () => load().charges,
    charge: async (order: Order, idempotencyKey: string) => {
      const state = load()
      const existing = state.charges[idempotencyKey]
      if (existing) return existing
      if (!state.seen.includes(idempotencyKey)) {
        save({ ...state, seen: [...state.seen, idempotencyKey] })
        throw new Error("payment provider timed out (simulated)")
      }
      const receipt = `rcpt-${order.id}-${Object.keys(state.charges).length + 1}`
      save({ ...state, charges: { ...state.charges, [idempotencyKey]: receipt } })
      return receipt
    },
  }
}

export const makeCheckout = (payments: ReturnType<typeof makePayments>, coolingOff: `${number} seconds`) =>
  defineWorkflow("checkout", async (ctx, order: Order) => {
    const hold = await ctx.step("reserve-stock", () => {
      ctx.log.info(`holding ${order.items.map((i) => `${i.qty} × ${i.sku}`).join(", ")}`)
      return `hold-${order.id}`
    })
    const receipt = await ctx.step(
      "charge",
      async ({ attempt, idempotencyKey }) => {
        try {
          const receipt = await payments.charge(order, idempotencyKey)
          ctx.log.info(`attempt ${attempt}: charged $${(order.amountCents / 100).toFixed(2)} (receipt ${receipt})`)
          return receipt
        } catch (e) {
          ctx.log.info(`attempt ${attempt}: ${e instanceof Error ? e.message : String(e)}`)
          throw e
        }
      },
      { retry: { maxAttempts: 5, initialDelay: "200 millis", backoff: 2 }, timeout: "10 seconds" },
    )
    await ctx.sleep(coolingOff) // its wake-up time is recorded once: it survives restarts
    ctx.log.info(`cooling-off period (${coolingOff}) over`)
    const tracking = await ctx.step("ship", () => {
      ctx.log.info(`shipped (tracking track-${order.id})`)
      return `track-${order.id}`
    })
    return { hold, receipt, tracking }
  })
