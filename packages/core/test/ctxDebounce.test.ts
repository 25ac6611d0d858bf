/**
 * `ctx.debounce` on the test kit: workflows debouncing one key collapse into one run, the call is recorded
 * (a replay returns the same handle without calling the store), and it commits with its record, so a crash
 * right after the call makes no second run.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow as defineEffectWorkflow } from "../src/effect.ts"
import { defineWorkflow, InvalidArgument, memoryStore, type Store } from "../src/index.ts"
import { testEngine, type TestEngine } from "../src/testing.ts"

const start = Date.UTC(2026, 0, 1)
const secondsIn = (ms: number) => (ms - start) / 1000

const runs: Array<{ input: string; at: number }> = []
const digest = defineWorkflow("digest", async (ctx, text: string) => {
  const at = (await ctx.now()).getTime()
  await ctx.step("send", () => void runs.push({ input: text, at }))
  return text
})

const caller = defineWorkflow("caller", async (ctx, text: string) => {
  const h = await ctx.debounce(digest, "user-1", text, { delay: "30 seconds" })
  return { id: h.id, result: await h.result() }
})

const effectCaller = defineEffectWorkflow("effect-caller", (ctx, text: string) =>
  Effect.gen(function* () {
    const h = yield* ctx.debounce(digest, "user-1", text, { delay: "30 seconds" })
    return { id: h.id, result: yield* h.result }
  }),
)

/** The debounced runs of `digest` in the store. */
const debouncedRuns = async (t: TestEngine) =>
  (await Effect.runPromise(t.store.listWorkflows({ name: "digest" }))).filter((r) =>
    r.id.startsWith("@debounce:digest:user-1:"),
  )

describe("ctx.debounce", () => {
  it("two workflows debouncing one key collapse into one run; both get its handle and its result", async () => {
    runs.length = 0
    const t = await testEngine({ workflows: [digest, caller, effectCaller], startAt: start })
    const a = await t.start(caller, "a")
    await t.advance("10 seconds")
    const b = await t.start(effectCaller, "ab")
    await t.advance("29 seconds")
    expect(runs).toEqual([])
    expect(await debouncedRuns(t)).toHaveLength(1)
    await t.advance("1 second")
    const [ra, rb] = await Promise.all([a.result(), b.result()])
    expect(ra).toEqual(rb)
    expect(ra.result).toBe("ab")
    expect(ra.id).toMatch(/^@debounce:digest:user-1:/)
    // Started 30 s after the last call (the Effect caller's, at 10 s).
    expect(runs.map((r) => [r.input, secondsIn(r.at)])).toEqual([["ab", 40]])
    const [step] = await t.workflows.steps(a.id)
    expect([step?.kind, step?.name, step?.output]).toEqual(["debounce", "digest:user-1", ra.id])
    expect(await t.verifyReplay(a.id)).toEqual({ ok: true })
    expect(await t.verifyReplay(b.id)).toEqual({ ok: true })
    await t.shutdown()
  })

  it("a restart replays the recorded call: the same handle, no store call, one run", async () => {
    runs.length = 0
    const base = memoryStore()
    let calls = 0
    const store: Store = {
      ...base,
      debounceFromWorkflow: (...args) => (calls++, base.debounceFromWorkflow(...args)),
      debounce: (r) => (calls++, base.debounce(r)),
    }
    const t = await testEngine({ store, workflows: [digest, caller, effectCaller], startAt: start })
    const a = await t.start(caller, "a")
    const b = await t.start(effectCaller, "b")
    await t.settle()
    expect(calls).toBe(2)
    await t.restart()
    await t.advance("30 seconds")
    const [ra, rb] = await Promise.all([a.result(), b.result()])
    expect(calls).toBe(2)
    expect(rb).toEqual(ra)
    expect(await debouncedRuns(t)).toHaveLength(1)
    expect(runs).toHaveLength(1)
    await t.shutdown()
  })

  it("a crash right after the call commits (its reply never seen) makes no second call and no second run", async () => {
    // The process dies between the store's commit and the engine seeing it: the caller's replay must find the
    // record the store wrote with the call. Meanwhile the run became due and started, so a replay that called
    // again would find no waiting run to join and start a second one.
    runs.length = 0
    const base = memoryStore()
    let calls = 0
    let t: TestEngine | undefined
    const crashAfter = <A, E>(committed: Effect.Effect<A, E>): Effect.Effect<A, E> =>
      Effect.flatMap(committed, () => {
        if (++calls > 1) return Effect.die(new Error("ctx.debounce called the store again"))
        void t!.crash()
        return Effect.never
      })
    const store: Store = {
      ...base,
      debounceFromWorkflow: (...args) => crashAfter(base.debounceFromWorkflow(...args)),
      debounce: (r) => crashAfter(base.debounce(r)),
    }
    t = await testEngine({ store, workflows: [digest, caller], startAt: start })
    const a = await t.start(caller, "a")
    await t.settle()
    expect(calls).toBe(1)
    await t.restart()
    await t.advance("30 seconds")
    const result = await a.result()
    expect(calls).toBe(1)
    expect(result.result).toBe("a")
    const debounced = await debouncedRuns(t)
    expect(debounced.map((r) => r.id)).toEqual([result.id])
    expect(runs).toHaveLength(1)
    await t.shutdown()
  })

  it("refuses a bad key, delay or maxWait as durably.debounce does, before anything is recorded", async () => {
    const probe = defineWorkflow("probe", async (ctx, options: { key: string; delay?: unknown; maxWait?: unknown }) => {
      try {
        await ctx.debounce(digest, options.key, "x", options as never)
        return "accepted"
      } catch (e) {
        return e instanceof InvalidArgument ? e.message : `not InvalidArgument: ${String(e)}`
      }
    })
    const t = await testEngine({ workflows: [digest, probe], startAt: start })
    for (const [options, message] of [
      [{ key: "k", delay: -5 }, /^ctx\.debounce: delay must be a finite, non-negative duration/],
      [{ key: "k", delay: "soon" }, /^ctx\.debounce: delay must be a duration/],
      [{ key: "k", delay: "1 second", maxWait: "-1 minutes" }, /^ctx\.debounce: maxWait must be/],
      [{ key: "k" }, /^ctx\.debounce: options must give a delay/],
      [{ key: "", delay: "1 second" }, /^ctx\.debounce: key must be a non-empty string/],
    ] as const) {
      const h = await t.start(probe, options)
      await t.settle()
      expect(await h.result()).toMatch(message)
      expect(await Effect.runPromise(t.store.loadCheckpoints(h.id))).toEqual([])
    }
    expect(await Effect.runPromise(t.store.listWorkflows({ name: "digest" }))).toEqual([])
    await t.shutdown()
  })
})
