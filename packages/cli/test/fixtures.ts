/** Workflows that leave every kind of record behind, for the CLI's and dashboard's end-to-end tests. */
import { defineWorkflow } from "@durably/core"

/** Returns every kind of value the serializer stores, and a 100 kB string. */
export const valuesWorkflow = defineWorkflow("values", async (ctx, label: string) => {
  const at = await ctx.step("stamp", () => new Date("2026-01-02T03:04:05.000Z"))
  return {
    label,
    big: 2n ** 70n,
    at,
    map: new Map<string, unknown>([["k", 1n]]),
    blob: "x".repeat(100_000),
  }
})

/** Charges a card: the provider is "down" until `fixed` is set, so the step fails (the fork's story). */
export const makeCheckout = (provider: { fixed: boolean }) =>
  defineWorkflow("checkout", async (ctx, order: { id: string }) => {
    const hold = await ctx.step("reserve", () => `hold-${order.id}`)
    const receipt = await ctx.step("charge", () => {
      if (!provider.fixed) throw new Error("card declined: payment provider unavailable")
      return `receipt-${order.id}`
    })
    return { hold, receipt }
  })

/** Sleeps an hour: a PENDING workflow to cancel. */
export const sleeper = defineWorkflow("sleeper", async (ctx, _: null) => {
  await ctx.step("before", () => "awake")
  await ctx.sleep("1 hour")
  return "slept"
})

/**
 * Fails in its body, outside any step, until `state.healed` is set: a failed workflow that a resume
 * completes (a failed step would fail again on replay; that is what fork is for).
 */
export const makeFlaky = (state: { healed: boolean }) =>
  defineWorkflow("flaky", async (ctx, label: string) => {
    const loaded = await ctx.step("load", () => `loaded-${label}`)
    if (!state.healed) throw new Error("settings missing: not healed yet")
    return loaded
  })
