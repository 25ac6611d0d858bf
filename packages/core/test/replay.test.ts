import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, memoryStore, type Store, type WorkflowContext } from "../src/index.ts"
import { testEngine, type TestEngine } from "../src/testing.ts"

/** A store that runs `after` once the n-th done checkpoint is written: the test's crash point. */
const crashAfterCheckpoint = (store: Store, n: number, after: () => void): Store => {
  let written = 0
  return {
    ...store,
    writeCheckpoint: (id, epoch, cp) =>
      Effect.tap(store.writeCheckpoint(id, epoch, cp), () =>
        Effect.sync(() => {
          if (cp.state === "done" && ++written === n) after()
        }),
      ),
  }
}

describe("replay", () => {
  it("crash at every step boundary of a 5-step workflow: right result, each body once per checkpoint", async () => {
    for (let boundary = 1; boundary <= 5; boundary++) {
      const runs = [0, 0, 0, 0, 0]
      const wf = defineWorkflow("five", async (ctx, start: number) => {
        let acc = start
        for (let i = 0; i < 5; i++) acc = await ctx.step(`s${i}`, () => (runs[i]!++, acc * 2 + i))
        return acc
      })
      let t: TestEngine | undefined
      const store = crashAfterCheckpoint(memoryStore(), boundary, () => void t!.crash())
      t = await testEngine({ workflows: [wf], store })
      const h = await t.start(wf, 1, { id: `five-${boundary}` })
      await t.settle()
      expect(
        runs.reduce((a, b) => a + b),
        `boundary ${boundary}: ran up to the crash`,
      ).toBe(boundary)
      await t.restart()
      expect(await h.result()).toBe(((((1 * 2 + 0) * 2 + 1) * 2 + 2) * 2 + 3) * 2 + 4)
      expect(runs, `boundary ${boundary}`).toEqual([1, 1, 1, 1, 1])
      expect((await t.verifyReplay(h.id)).ok).toBe(true)
    }
  })

  it("a step interrupted after its body returned but before its checkpoint runs at most once more", async () => {
    let runs = 0
    let t: TestEngine | undefined
    const base = memoryStore()
    const store: Store = {
      ...base,
      writeCheckpoint: (id, epoch, cp) =>
        cp.name === "pay" && runs === 1
          ? Effect.sync(() => void t!.crash()).pipe(Effect.andThen(Effect.never))
          : base.writeCheckpoint(id, epoch, cp),
    }
    const wf = defineWorkflow("pay", async (ctx) => ctx.step("pay", () => ++runs))
    t = await testEngine({ workflows: [wf], store })
    const h = await t.start(wf, undefined)
    await t.settle()
    expect(runs).toBe(1)
    await t.restart()
    expect(await h.result()).toBe(2)
    expect(runs).toBe(2)
  })

  it("flat Promise.all: replay returns recorded results without running bodies", async () => {
    const runs = new Map<string, number>()
    const body = (name: string, v: number) => () => (runs.set(name, (runs.get(name) ?? 0) + 1), v)
    let gate!: () => void
    const blocked = new Promise<void>((r) => (gate = r))
    const wf = defineWorkflow("flat", async (ctx) => {
      const xs = await Promise.all([
        ctx.step("a", body("a", 1)),
        ctx.step("b", body("b", 2)),
        ctx.step("c", body("c", 3)),
      ])
      await ctx.step("block", async () => {
        runs.set("block", (runs.get("block") ?? 0) + 1)
        if (runs.get("block") === 1) await blocked
        return 0
      })
      return xs
    })
    const t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await new Promise((r) => setTimeout(r, 20))
    await t.crash()
    gate()
    await t.restart()
    expect(await h.result()).toEqual([1, 2, 3])
    expect(Object.fromEntries(runs)).toEqual({ a: 1, b: 1, c: 1, block: 2 })
  })

  it("nested Promise.all: branches interleave on replay as they did live", async () => {
    const order: string[] = []
    const runs = new Map<string, number>()
    // Each branch awaits several steps; bodies finish at different (real) times, so live completion order
    // differs from call order. Replay must reproduce it so that later step ids line up.
    const delays: Record<string, number> = { a1: 15, b1: 1, a2: 1, b2: 12, a3: 3, b3: 1 }
    const step = (ctx: WorkflowContext, name: string) =>
      ctx.step(name, async () => {
        runs.set(name, (runs.get(name) ?? 0) + 1)
        await new Promise((r) => setTimeout(r, delays[name]))
        return name
      })
    const branch = async (ctx: WorkflowContext, p: string) => {
      const x = await step(ctx, `${p}1`)
      order.push(x)
      const y = await step(ctx, `${p}2`)
      order.push(y)
      const z = await step(ctx, `${p}3`)
      order.push(z)
      return [x, y, z]
    }
    const wf = defineWorkflow("nested", async (ctx) => {
      const r = await Promise.all([branch(ctx, "a"), branch(ctx, "b")])
      const last = await ctx.step("last", () => "done")
      return { r, last, order: [...order] }
    })
    const t = await testEngine({ workflows: [wf] })
    const live = await t.run(wf, undefined)
    const liveOrder = [...order]
    expect(live.last).toBe("done")
    // Replay from the full history: every body ran once, and the order is the live one.
    const ids = await Effect.runPromise(t.store.listWorkflows({}))
    const id = ids[0]!.id
    order.length = 0
    expect(await t.verifyReplay(id)).toEqual({ ok: true })
    expect(order).toEqual(liveOrder)
    expect([...runs.values()].every((n) => n === 1)).toBe(true)
  })

  it("values are identical live and on replay (instanceof, Date, BigInt, Map)", async () => {
    class Money {
      readonly cents: bigint
      constructor(cents: bigint) {
        this.cents = cents
      }
    }
    const seen: unknown[][] = []
    let crashOnce = true
    let t: TestEngine | undefined
    const wf = defineWorkflow("values", async (ctx) => {
      const d = await ctx.step("date", () => new Date(86_400_000))
      const b = await ctx.step("big", () => 2n ** 70n)
      const m = await ctx.step("map", () => new Map([["k", new Set([1, 2])]]))
      const c = await ctx.step("class", () => new Money(5n))
      const e = await ctx
        .step("err", () => {
          throw new TypeError("nope")
        })
        .catch((err: unknown) => err)
      seen.push([d, b, m, c, e])
      if (crashOnce) {
        crashOnce = false
        await ctx.step("boom", () => void t!.crash())
      }
      return "ok"
    })
    t = await testEngine({ workflows: [wf] })
    const h = await t.start(wf, undefined)
    await t.settle()
    await t.restart()
    await h.result()
    expect(seen).toHaveLength(2)
    const [live, replayed] = seen as [unknown[], unknown[]]
    expect(live[0]).toBeInstanceOf(Date)
    expect(live[1]).toBe(2n ** 70n)
    expect(live[2]).toEqual(new Map([["k", new Set([1, 2])]]))
    // A class instance without a schema loses its class, live and on replay alike.
    expect(live[3]).not.toBeInstanceOf(Money)
    expect(live[4]).toBeInstanceOf(TypeError)
    expect(replayed).toEqual(live)
    expect((replayed[4] as Error).message).toBe("nope")
  })
})
