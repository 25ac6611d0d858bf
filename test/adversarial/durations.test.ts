// Durations and limits past what the engine's timers or the database's columns hold, on every store: each is
// refused at the call with InvalidArgument, or (a fraction of a millisecond) works; nothing hangs or wedges.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineWorkflow, Durably, type QueueSettings, type Store, type WorkflowContext } from "@durably/core"
import { defineQueue } from "@durably/scheduler"
import {
  badDurations,
  captureLogs,
  logProblems,
  tracked,
  type Stored,
  echoesSafely,
  rejection,
  storeKinds,
  tagOf,
  within,
} from "./support.ts"

const noop = defineWorkflow("adv-d-noop", async () => 1)
const plain = defineQueue("adv-d-plain")

const ctxCalls: ReadonlyArray<readonly [string, (ctx: WorkflowContext, d: never) => unknown]> = [
  ["ctx.sleep", (ctx, d) => ctx.sleep(d)],
  ["ctx.recv timeout", (ctx, d) => ctx.recv("t", { timeout: d })],
  ["ctx.getEvent timeout", (ctx, d) => ctx.getEvent(ctx.workflowId, "k", { timeout: d })],
  ["ctx.step timeout", (ctx, d) => ctx.step("s", () => 1, { timeout: d })],
  ["ctx.step retry delay", (ctx, d) => ctx.step("r", () => 1, { retry: { maxAttempts: 2, initialDelay: d } })],
  ["ctx.start timeout", (ctx, d) => ctx.start(noop, undefined, { timeout: d })],
  ["ctx.enqueue delay", (ctx, d) => ctx.enqueue(plain, noop, undefined, { delay: d })],
]

const prober = defineWorkflow("adv-d-prober", async (ctx, which: number) => {
  const out: Array<string | undefined> = []
  for (const [, call] of ctxCalls) {
    try {
      await call(ctx, badDurations[which]![1] as never)
      out.push("accepted")
    } catch (e) {
      out.push(tagOf(e))
    }
  }
  return out
})

const fractional = defineWorkflow("adv-d-fraction", async (ctx) => {
  await ctx.sleep(1.5)
  await ctx.sleepUntil(Date.now() + 0.25)
  await ctx.recv("t", { timeout: 0.5 })
  return "done"
})

describe.each(storeKinds)("durations and limits on the $name store", (kind) => {
  let store: Store
  let cleanup: () => Promise<void>
  let secret: string | undefined
  let stored: () => Promise<Stored>
  /** What the engines use: the store, counting the messages it accepts (see tracked). */
  let engineStore: Store
  let durably: Durably
  const logs = captureLogs()

  beforeAll(async () => {
    ;({ store, cleanup, secret } = await kind.make())
    ;({ store: engineStore, stored } = tracked(store))
    durably = await Durably.launch({
      store: engineStore,
      workflows: [noop, prober, fractional],
      queues: [plain],
      serveQueues: false,
      logger: logs.logger,
      heartbeat: false,
    })
  }, 60_000)
  afterAll(async () => {
    await durably?.shutdown({ timeout: "5 seconds" })
    await cleanup?.()
  })

  it.each(badDurations.map((d, i) => [d[0], i] as const))(
    "%s is refused by every call that takes a duration",
    async (label, i) => {
      const d = badDurations[i]![1] as never
      const before = await stored()
      for (const [what, call] of [
        ["start timeout", () => durably.start(noop, undefined, { timeout: d })],
        ["enqueue delay", () => durably.enqueue(plain, noop, undefined, { delay: d })],
        ["enqueue timeout", () => durably.enqueue(plain, noop, undefined, { timeout: d })],
        ["getEvent timeout", () => durably.getEvent("x", "k", { timeout: d })],
        ["shutdown timeout", () => durably.shutdown({ timeout: d })],
        ["debounce delay", () => durably.debounce(noop, "k", undefined, { delay: d })],
        ["debounce maxWait", () => durably.debounce(noop, "k", undefined, { delay: "1 hour", maxWait: d })],
        ["prune olderThan", () => durably.workflows.prune({ olderThan: d })],
        ["rate period", () => defineQueue("q", { rateLimit: { limit: 1, period: d } })],
        ["heartbeat", () => Durably.launch({ store: engineStore, workflows: [noop], heartbeat: { interval: d } })],
      ] as const) {
        const e = await rejection(call, `${kind.name}: ${what} with ${label}`)
        expect(tagOf(e), `${what} with ${label}: ${String(e)}`).toBe("InvalidArgument")
        expect(echoesSafely((e as Error).message)).toBe(true)
      }
      expect(await stored()).toEqual(before)
      const inside = await within(durably.run(prober, i), `${kind.name}: ctx calls with ${label}`)
      expect(inside).toEqual(ctxCalls.map(() => "InvalidArgument"))
    },
  )

  it("fractions of a millisecond are rounded up and work (the columns hold whole milliseconds)", async () => {
    expect(await within(durably.run(fractional, undefined), `${kind.name}: fractional durations`)).toBe("done")
  })

  it("sleepUntil refuses instants no Date can hold", async () => {
    const until = defineWorkflow(`adv-d-until-${kind.name}`, async (ctx, at: unknown) => {
      try {
        await ctx.sleepUntil(at as number)
        return "accepted"
      } catch (e) {
        return tagOf(e)
      }
    })
    const engine = await Durably.launch({
      store: engineStore,
      workflows: [until],
      logger: false,
      heartbeat: false,
      executorId: "u",
    })
    try {
      for (const at of [1e20, NaN, "tomorrow", new Date(NaN)])
        expect(await within(engine.run(until, at), `sleepUntil ${String(at)}`)).toBe("InvalidArgument")
    } finally {
      await engine.shutdown()
    }
  })

  it("the engine is still running after a refused shutdown", async () => {
    expect(await within(durably.run(noop, undefined), `${kind.name}: run after refusals`)).toBe(1)
  })

  it("queue limits past an integer column and bad priorities are refused", async () => {
    const tooBig: ReadonlyArray<QueueSettings> = [
      { concurrency: 2 ** 31 },
      { maxLength: 2 ** 31 },
      { workerConcurrency: 1.5 },
      { rateLimit: { limit: 2 ** 31, period: "1 second" } },
      { partition: { concurrency: 0 } },
      { maxLength: -1 },
    ]
    for (const settings of tooBig)
      expect(tagOf(await rejection(() => defineQueue("q", settings), JSON.stringify(settings)))).toBe("InvalidArgument")
    for (const priority of [2 ** 31, 1.5, NaN])
      expect(
        tagOf(await rejection(() => durably.enqueue(plain, noop, undefined, { priority }), `priority ${priority}`)),
      ).toBe("InvalidArgument")
    expect(tagOf(await rejection(() => durably.readStream("x", "k", { from: 2 ** 31 }), "from"))).toBe(
      "InvalidArgument",
    )
  })

  it("the logs hold no secret and only short, escaped echoes of what was refused", () => {
    expect(logs.entries.length).toBeGreaterThan(0)
    expect(logProblems(logs.entries, secret === undefined ? [] : [secret])).toEqual([])
  })
})
