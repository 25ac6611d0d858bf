/**
 * The workflow of the recovery scenario, shared by the process that dies (./doomed.ts) and the bench
 * process that recovers it: step "first", then either step "second" (whose body, in the doomed process,
 * never returns: the process dies in the middle of it) or `ctx.recv("go")` (a message that arrives while
 * nobody runs the workflow), then step "third". The hooks let each process observe its own executions.
 */
import { defineWorkflow } from "@durably/core"

export interface RecoveryInput {
  readonly i: number
  /** What the workflow is in when its executor dies: a step body that hangs, or a recv. */
  readonly wait: "step" | "recv"
}

export const GO = "go"

/** Per-process observers; the doomed process sets `blockSecond`. */
export const hooks = {
  /** Step "second" hangs forever (only in the process that is going to be killed). */
  blockSecond: false,
  /** The workflow function began (live or replaying): in the recovering process, a workflow was taken over. */
  onBegin: (_i: number): void => undefined,
  /** Step "second"'s body was entered. */
  onSecond: (_i: number): void => undefined,
  /** Step "third"'s body ran: the workflow's last operation. */
  onThird: (_i: number): void => undefined,
}

export const recovering = defineWorkflow("bench-recovering", async (ctx, input: RecoveryInput) => {
  hooks.onBegin(input.i)
  const a = await ctx.step("first", () => input.i)
  const b =
    input.wait === "recv"
      ? ((await ctx.recv<number>(GO, { timeout: "1 hour" })) ?? -1)
      : await ctx.step("second", () => {
          hooks.onSecond(input.i)
          return hooks.blockSecond ? new Promise<number>(() => undefined) : input.i
        })
  return ctx.step("third", () => {
    hooks.onThird(input.i)
    return a + b
  })
})

/** The workflow id of input `i`. */
export const idOf = (i: number) => `bench-rec-${String(i).padStart(6, "0")}`
