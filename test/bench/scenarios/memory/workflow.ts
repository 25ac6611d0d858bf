/**
 * The workflow of the memory scenario: it waits in `ctx.sleep("1 hour")` or in `ctx.recv("go")` (or, to warm
 * the worker up, not at all), then runs one step. The hook counts, in the worker, the workflows that got past
 * their wait.
 */
import { defineWorkflow } from "@durably/core"

export interface WaitingInput {
  readonly i: number
  readonly wait: "sleep" | "recv" | "none"
}

export const GO = "go"

export const hooks = {
  onAfter: (_i: number): void => undefined,
}

export const waiting = defineWorkflow("bench-waiting", async (ctx, input: WaitingInput) => {
  if (input.wait === "sleep") await ctx.sleep("1 hour")
  else if (input.wait === "recv") await ctx.recv(GO)
  return ctx.step("after", () => {
    hooks.onAfter(input.i)
    return input.i
  })
})

/** Even `i` sleep, odd `i` wait for a message. */
export const waitOf = (i: number): "sleep" | "recv" => (i % 2 === 0 ? "sleep" : "recv")

export const idOf = (i: number) => `bench-mem-${String(i).padStart(6, "0")}`
