/** Long sleeps park their workflow: out of memory while it sleeps, replayed from its history when due. */
import { describe, expect, it } from "vitest"
import { defineWorkflow } from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

describe("parking long sleeps", () => {
  it("a workflow sleeping an hour leaves memory and finishes on time, its steps run once", async () => {
    const runs: string[] = []
    let invocations = 0
    const wf = defineWorkflow("napper", async (ctx, n: number) => {
      invocations++
      const a = await ctx.step("before", () => (runs.push("before"), n))
      await ctx.sleep("1 hour")
      return ctx.step("after", () => (runs.push("after"), a + 1))
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, 1)
    await t.settle()
    expect((await h.status()).status).toBe("PENDING")
    expect(runs).toEqual(["before"])
    await t.advance("59 minutes")
    expect((await h.status()).status).toBe("PENDING")
    await t.advance("1 minute")
    expect(await h.result()).toBe(2)
    expect(runs).toEqual(["before", "after"])
    // Parked, then replayed from its history: the function ran twice, each step once.
    expect(invocations).toBe(2)
    expect((await t.verifyReplay(h.id)).ok).toBe(true)
    await t.shutdown()
  })

  it("short sleeps, sleeps beside other live work, and parking turned off keep the workflow in memory", async () => {
    const invocations = { long: 0, short: 0, busy: 0 }
    const long = defineWorkflow("long", async (ctx) => {
      invocations.long++
      await ctx.sleep("2 hours")
    })
    const short = defineWorkflow("short", async (ctx) => {
      invocations.short++
      await ctx.sleep("10 seconds")
    })
    const busy = defineWorkflow("busy", async (ctx) => {
      invocations.busy++
      await Promise.all([ctx.sleep("2 hours"), ctx.recv("go")])
    })
    const t = await testEngine({ workflows: [long, short, busy] })
    const hs = await Promise.all([t.start(long, undefined), t.start(short, undefined), t.start(busy, undefined)])
    await t.advance("10 seconds")
    await t.send(hs[2].id, "go", 1)
    await t.advance("2 hours")
    for (const h of hs) expect((await h.status()).status).toBe("SUCCESS")
    expect(invocations).toEqual({ long: 2, short: 1, busy: 1 })
    await t.shutdown()

    let kept = 0
    const keep = defineWorkflow("kept", async (ctx) => {
      kept++
      await ctx.sleep("2 hours")
    })
    const off = await testEngine({ workflows: [keep], parkSleepsLongerThan: false })
    const h = await off.start(keep, undefined)
    await off.advance("2 hours")
    expect((await h.status()).status).toBe("SUCCESS")
    expect(kept).toBe(1)
    await off.shutdown()
  })

  it("a parked workflow survives a crash, and a cancel while parked sticks", async () => {
    const wf = defineWorkflow("napper2", async (ctx) => {
      await ctx.sleep("1 day")
      return "awake"
    })
    const t = await testEngine({ workflows: [wf] })
    const kept = await t.start(wf, undefined)
    const cancelled = await t.start(wf, undefined)
    await t.settle()
    await t.cancel(cancelled.id)
    await t.restart()
    await t.advance("1 day")
    expect(await kept.result()).toBe("awake")
    expect((await cancelled.outcome()).status).toBe("CANCELLED")
    await t.shutdown()
  })

  it("a sleep past the workflow's deadline does not park it: the timeout fires on time", async () => {
    const wf = defineWorkflow("late", async (ctx) => ctx.sleep("3 hours"))
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined, { timeout: "1 hour" })
    await t.advance("1 hour")
    const o = await h.outcome()
    expect(o.status).toBe("CANCELLED")
    expect(o.status === "CANCELLED" && o.reason).toBe("timeout")
    await t.shutdown()
  })
})
