/** Debounce on the test kit: bursts collapse into one run with the latest input, on the virtual clock. */
import { describe, expect, it } from "vitest"
import { defineWorkflow, InvalidArgument } from "../src/index.ts"
import { testEngine } from "../src/testing.ts"

const runs: Array<{ input: string; at: number }> = []
const digest = defineWorkflow("digest", async (ctx, text: string) => {
  const at = (await ctx.now()).getTime()
  await ctx.step("send", () => void runs.push({ input: text, at }))
  return text
})

const start = Date.UTC(2026, 0, 1)
const secondsIn = (ms: number) => (ms - start) / 1000

describe("debounce", () => {
  it("calls within `delay` collapse into one run with the latest input, `delay` after the last call", async () => {
    runs.length = 0
    const t = await testEngine({ workflows: [digest], startAt: start })
    const first = await t.debounce(digest, "user-1", "a", { delay: "30 seconds" })
    await t.advance("10 seconds")
    const second = await t.debounce(digest, "user-1", "ab", { delay: "30 seconds" })
    await t.advance("10 seconds")
    const third = await t.debounce(digest, "user-1", "abc", { delay: "30 seconds" })
    expect(second.id).toBe(first.id)
    expect(third.id).toBe(first.id)
    expect(first.id).toMatch(/^@debounce:digest:user-1:/)
    await t.advance("29 seconds")
    expect(runs).toEqual([])
    expect((await first.status()).status).toBe("DELAYED")
    await t.advance("1 second")
    expect(await first.result()).toBe("abc")
    expect(runs.map((r) => [r.input, secondsIn(r.at)])).toEqual([["abc", 50]])
    // Another key is its own burst; a call after the run started begins a new one.
    const other = await t.debounce(digest, "user-2", "x", { delay: "5 seconds" })
    const next = await t.debounce(digest, "user-1", "d", { delay: "5 seconds" })
    expect(next.id).not.toBe(first.id)
    expect(other.id).not.toBe(next.id)
    await t.advance("5 seconds")
    expect(runs.map((r) => r.input).sort()).toEqual(["abc", "d", "x"])
    await t.shutdown()
  })

  it("maxWait starts the run at most that long after the burst's first call, however long the burst goes on", async () => {
    runs.length = 0
    const t = await testEngine({ workflows: [digest], startAt: start })
    const ids = new Set<string>()
    for (let i = 0; i < 12; i++) {
      ids.add((await t.debounce(digest, "k", `call-${i}`, { delay: "30 seconds", maxWait: "1 minute" })).id)
      await t.advance("10 seconds")
    }
    await t.advance("1 minute")
    // Calls 0–5 (t = 0…50 s) make the first run, at 60 s; calls 6–11 (60…110 s) the second, at 120 s.
    expect(runs.map((r) => [r.input, secondsIn(r.at)])).toEqual([
      ["call-5", 60],
      ["call-11", 120],
    ])
    expect(ids.size).toBe(2)
    await t.shutdown()
  })

  it("a waiting run survives a crash and starts on time after the restart", async () => {
    runs.length = 0
    const t = await testEngine({ workflows: [digest], startAt: start })
    const h = await t.debounce(digest, "k", "kept", { delay: "1 minute" })
    await t.crash()
    await t.restart()
    await t.advance("1 minute")
    expect(await h.result()).toBe("kept")
    expect(runs.map((r) => secondsIn(r.at))).toEqual([60])
    await t.shutdown()
  })

  it("refuses a negative or non-duration delay or maxWait, a missing delay and an empty key", async () => {
    const t = await testEngine({ workflows: [digest] })
    for (const [key, options, message] of [
      ["k", { delay: -5 }, /delay must be a finite, non-negative duration/],
      ["k", { delay: "soon" }, /delay must be a duration/],
      ["k", { delay: "1 second", maxWait: "-1 minutes" }, /maxWait must be/],
      ["k", {}, /must give a delay/],
      ["", { delay: "1 second" }, /key must be a non-empty string/],
    ] as const) {
      const e = await t.debounce(digest, key, "x", options as never).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(InvalidArgument)
      expect((e as Error).message).toMatch(message)
    }
    await t.shutdown()
  })
})
