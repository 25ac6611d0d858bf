/**
 * The workflows of the memory scenario: one waits in `ctx.sleep("1 hour")`, in `ctx.recv("go")`, or for the
 * result of a child it starts (which itself waits in `ctx.recv("go")`), or (to warm the worker up) not at
 * all, then runs one step. The hook counts, in the worker, the workflows that got past their wait.
 */
import { defineWorkflow } from "@durably/core"

export interface WaitingInput {
  readonly i: number
  readonly wait: "sleep" | "recv" | "child" | "none"
}

export const GO = "go"

export const hooks = {
  onAfter: (_i: number): void => undefined,
}

/** The child a "child" waiter awaits: it waits for its own message, then returns. */
export const waitingChild = defineWorkflow("bench-waiting-child", async (ctx, i: number) => {
  await ctx.recv(GO)
  return i
})

export const waiting = defineWorkflow("bench-waiting", async (ctx, input: WaitingInput) => {
  if (input.wait === "sleep") await ctx.sleep("1 hour")
  else if (input.wait === "recv") await ctx.recv(GO)
  else if (input.wait === "child") await (await ctx.start(waitingChild, input.i, { id: childIdOf(input.i) })).result()
  return ctx.step("after", () => {
    hooks.onAfter(input.i)
    return input.i
  })
})

/**
 * Even `i` sleep; odd `i` wait for a message, except every tenth (`i % 10 === 1`), which awaits a child that
 * waits for a message: half sleeping, half in `recv` (40% directly, 10% in their child), 10% awaiting a child.
 */
export const waitOf = (i: number): "sleep" | "recv" | "child" =>
  i % 2 === 0 ? "sleep" : i % 10 === 1 ? "child" : "recv"

export const idOf = (i: number) => `bench-mem-${String(i).padStart(6, "0")}`
export const childIdOf = (i: number) => `bench-mem-child-${String(i).padStart(6, "0")}`

/** The workflows a message wakes: the recv waiters themselves, and the children of the child waiters. */
export const recipientsOf = (n: number): string[] =>
  Array.from({ length: n / 2 }, (_, k) => 2 * k + 1).map((i) => (waitOf(i) === "child" ? childIdOf(i) : idOf(i)))
