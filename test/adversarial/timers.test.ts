// Waits longer than a Node timer can hold (2^31-1 ms, about 24.8 days; a longer one fires at once): they are
// chained, never cut short. shutdown's timeout on every store; ctx.sleep and recv timeouts under fake timers
// that overflow as Node's do, both when the workflow is parked and when it waits in memory.
import { afterEach, describe, expect, it, vi } from "vitest"
import { Effect } from "effect"
import { defineWorkflow, Durably, memoryStore, type Store } from "@durably/core"
import { longTimeout } from "../../packages/core/src/duration.ts"
import { storeKinds, within } from "./support.ts"

describe("timers past 2^31-1 ms", () => {
  afterEach(() => vi.useRealTimers())

  it("longTimeout waits the whole delay instead of firing at once", () => {
    vi.useFakeTimers()
    const fired = vi.fn()
    longTimeout(fired, 2 ** 31 + 5_000)
    vi.advanceTimersByTime(2 ** 31 - 1)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(5_000)
    expect(fired).not.toHaveBeenCalled()
    vi.advanceTimersByTime(10)
    expect(fired).toHaveBeenCalledOnce()
  })

  it.each(storeKinds)(
    "shutdown({ timeout: '30 days' }) on the $name store waits for the running step, which runs once and is checkpointed",
    async (kind) => {
      const { store, cleanup } = await kind.make()
      let runs = 0
      let release: () => void = () => undefined
      const released = new Promise<void>((r) => (release = r))
      let entered: () => void = () => undefined
      const inStep = new Promise<void>((r) => (entered = r))
      const slow = defineWorkflow("adv-o-slow", async (ctx) =>
        ctx.step("slow", async () => {
          runs++
          entered()
          await released
          return "finished"
        }),
      )
      // Shutdown closes the store it was given: this one stays open, to read the checkpoint afterwards.
      const kept: Store = { ...store, close: () => Effect.void }
      try {
        const engine = await Durably.launch({ store: kept, workflows: [slow], logger: false, heartbeat: false })
        const h = await engine.start(slow, undefined)
        await within(inStep, `${kind.name}: step entered`)
        let down = false
        const shutdown = engine.shutdown({ timeout: "30 days" }).then(() => (down = true))
        // Before the fix a timer above 2^31-1 ms fired at once and shutdown returned within milliseconds.
        await new Promise((r) => setTimeout(r, 300))
        expect(down).toBe(false)
        release()
        await within(shutdown, `${kind.name}: shutdown`)
        const checkpoints = await Effect.runPromise(store.loadCheckpoints(h.id))
        expect(checkpoints.find((c) => c.name === "slow")?.state).toBe("done")
        expect(runs).toBe(1)
      } finally {
        await Effect.runPromise(store.close())
        await cleanup()
      }
    },
    60_000,
  )

  it.each([
    ["parked (the engine's wake-up timer)", {}],
    ["held in memory (the execution's own timers)", { parkSleepsLongerThan: false, parkWaitsAfter: false }],
  ] as const)("ctx.sleep and a recv timeout past 2^31-1 ms wait their whole length, %s", async (_label, parking) => {
    // Fake timers overflow as Node's do (a delay above 2^31-1 ms becomes 1 ms), so only the engine's chaining
    // of timers keeps these waits whole. setImmediate stays real: Effect's scheduler runs on it.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] })
    const day = 24 * 60 * 60 * 1000
    const sleeper = defineWorkflow("adv-o-long-sleep", async (ctx) => {
      await ctx.sleep("30 days")
      return "woke"
    })
    const receiver = defineWorkflow("adv-o-long-recv", async (ctx) => {
      const m = await ctx.recv<string>("never", { timeout: "30 days" })
      return m ?? "timed out"
    })
    const engine = await Durably.launch({
      store: memoryStore(),
      workflows: [sleeper, receiver],
      logger: false,
      heartbeat: false,
      ...parking,
    })
    try {
      const sleeping = await engine.start(sleeper, undefined)
      const receiving = await engine.start(receiver, undefined)
      const statuses = async () => [(await sleeping.status())?.status, (await receiving.status())?.status]
      // Past the point where an unchained timer would have fired, and to a minute before the end.
      for (const step of [2 ** 31 + 1_000, 30 * day - 2 ** 31 - 1_000 - 60_000]) {
        await vi.advanceTimersByTimeAsync(step)
        expect([step, ...(await statuses())]).toEqual([step, "PENDING", "PENDING"])
      }
      await vi.advanceTimersByTimeAsync(2 * 60_000)
      for (let i = 0; i < 100 && (await statuses()).some((s) => s !== "SUCCESS"); i++)
        await vi.advanceTimersByTimeAsync(1_000)
      expect(await sleeping.result()).toBe("woke")
      expect(await receiving.result()).toBe("timed out")
    } finally {
      vi.useRealTimers()
      await engine.shutdown()
    }
  })
})
