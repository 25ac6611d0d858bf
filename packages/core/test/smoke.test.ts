import { describe, expect, it } from "vitest"
import { Durably, defineWorkflow, memoryStore } from "../src/index.ts"

describe("smoke", () => {
  it("runs steps", async () => {
    let calls = 0
    const wf = defineWorkflow("wf", async (ctx, n: number) => {
      const a = await ctx.step("a", () => { calls++; return n + 1 })
      const [b, c] = await Promise.all([ctx.step("b", () => a * 2), ctx.step("c", async () => new Date(5))])
      await ctx.sleep(10)
      return { b, c }
    })
    const durably = await Durably.launch({ store: memoryStore(), workflows: [wf], logger: false })
    const out = await durably.run(wf, 1)
    expect(out.b).toBe(4)
    expect(out.c).toBeInstanceOf(Date)
    expect(calls).toBe(1)
    await durably.shutdown()
  })
})
