import { describe, expect, it } from "vitest"
import {
  ConflictingWorkflowError,
  defineWorkflow,
  InvalidArgument,
  WorkflowCancelled,
  WorkflowTimedOut,
} from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

describe("durable sleep", () => {
  it("after a restart the workflow sleeps only the remainder", async () => {
    const wf = defineWorkflow("nap", async (ctx) => {
      await ctx.sleep("1 hour")
      return (await ctx.now()).getTime()
    })
    const t = await testEngine({ workflows: [wf] })
    const start = t.now().getTime()
    const h = await t.start(wf, undefined)
    await t.advance("40 minutes")
    await t.restart()
    await t.advance("19 minutes")
    expect((await h.status()).status).toBe("PENDING")
    await t.advance("1 minute")
    expect(await h.result()).toBe(start + 3_600_000)
  })

  it("sleepUntil an instant in the past returns at once; a bad instant is a clear error", async () => {
    const wf = defineWorkflow("until", async (ctx, at: number) => {
      await ctx.sleepUntil(new Date(at))
      return "woke"
    })
    const bad = defineWorkflow("bad-until", async (ctx) => ctx.sleepUntil(new Date(Number.NaN)))
    const t = await testEngine({ workflows: [wf, bad] })
    expect(await t.run(wf, 0)).toBe("woke")
    const o = await (await t.start(bad, undefined)).outcome()
    expect(o.status).toBe("ERROR")
    expect(o.status === "ERROR" && (o.error as Error).message).toMatch(/sleepUntil needs a valid Date/)
  })
})

describe("starting", () => {
  it("starting an existing id attaches: the input is ignored and the workflow runs once", async () => {
    let runs = 0
    const wf = defineWorkflow("once", async (ctx, n: number) => ctx.step("s", () => (runs++, n)))
    const other = defineWorkflow("other", async (_ctx, n: number) => n)
    const t = await testEngine({ workflows: [wf, other] })
    const [a, b] = await Promise.all([t.start(wf, 1, { id: "order-1" }), t.start(wf, 2, { id: "order-1" })])
    expect(await a.result()).toBe(1)
    expect(await b.result()).toBe(1)
    expect(await (await t.start(wf, 3, { id: "order-1" })).result()).toBe(1)
    expect(runs).toBe(1)
    await expect(t.start(other, 1, { id: "order-1" })).rejects.toBeInstanceOf(ConflictingWorkflowError)
  })

  it("default ids are time-ordered UUIDv7", async () => {
    const wf = defineWorkflow("id", async () => 1)
    const t = await testEngine({ workflows: [wf] })
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      ids.push((await t.start(wf, undefined)).id)
      await t.advance("1 millis")
    }
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect([...ids].sort()).toEqual(ids)
  })

  it("bad input is refused with clear errors", async () => {
    const wf = defineWorkflow("x", async () => 1)
    const unknown = defineWorkflow("not-launched", async () => 1)
    const t = await testEngine({ workflows: [wf] })
    await expect(t.start(unknown, undefined)).rejects.toThrow(/not one this engine was launched with/)
    await expect(t.start(wf, undefined, { id: "" })).rejects.toBeInstanceOf(InvalidArgument)
    await expect(t.start(wf, undefined, { timeout: "soon" as never })).rejects.toThrow(
      /start timeout must be a duration/,
    )
    await expect(t.start(wf, () => 1)).rejects.toThrow(/cannot serialize the value at \$/)
    expect(() => defineWorkflow("", async () => 1)).toThrow(/workflow name must be a non-empty string/)
  })
})

describe("cancellation and timeouts", () => {
  it("cancelling a sleeping workflow takes effect at once", async () => {
    let after = 0
    const wf = defineWorkflow("sleeper", async (ctx) => {
      await ctx.sleep("1 day")
      await ctx.step("after", () => after++)
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    await h.cancel()
    expect((await h.status()).status).toBe("CANCELLED")
    await expect(h.result()).rejects.toBeInstanceOf(WorkflowCancelled)
    await t.advance("2 days")
    expect(after).toBe(0)
  })

  it("cancelling a running workflow aborts the step's signal and stops at the next ctx call", async () => {
    let signal: AbortSignal | undefined
    let next = 0
    let release!: () => void
    const wf = defineWorkflow("runner", async (ctx) => {
      await ctx.step("long", (info) => {
        signal = info.signal
        return new Promise<void>((r) => (release = r))
      })
      await ctx.step("next", () => next++)
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    await t.cancel(h.id)
    expect(signal?.aborted).toBe(true)
    release()
    await t.settle()
    const o = await h.outcome()
    expect(o.status).toBe("CANCELLED")
    expect(next).toBe(0)
  })

  it("a timeout cancels a sleeping workflow at its deadline, across a restart", async () => {
    const wf = defineWorkflow("slowpoke", async (ctx) => {
      await ctx.sleep("1 hour")
      return "finished"
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined, { timeout: "30 minutes" })
    await t.advance("10 minutes")
    await t.restart()
    await t.advance("19 minutes")
    expect((await h.status()).status).toBe("PENDING")
    await t.advance("1 minute")
    const o = await h.outcome()
    expect(o.status).toBe("CANCELLED")
    expect(o.status === "CANCELLED" && o.reason).toBe("timeout")
    await expect(h.result()).rejects.toBeInstanceOf(WorkflowTimedOut)
  })

  it("a timeout stops a running workflow and aborts its step", async () => {
    let signal: AbortSignal | undefined
    const wf = defineWorkflow("busy", async (ctx) =>
      ctx.step("forever", (info) => {
        signal = info.signal
        return new Promise(() => undefined)
      }),
    )
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined, { timeout: "5 seconds" })
    await t.advance("5 seconds")
    await expect(h.result()).rejects.toBeInstanceOf(WorkflowTimedOut)
    expect(signal?.aborted).toBe(true)
  })
})
