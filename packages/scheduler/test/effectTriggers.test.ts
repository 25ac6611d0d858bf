/** Schedules and debounce in the Effect flavour: the same surface as Effects, typed errors in the channel. */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { Durably, ScheduleNotFound, defineWorkflow, memoryStore, type ScheduledRun } from "@durably/core/effect"
import { testEngine, type TestEngine } from "@durably/core/testing"
import { defineSchedule } from "../src/index.ts"

const report = defineWorkflow("effect-report", (ctx, run: ScheduledRun<string>) =>
  ctx.step(
    "build",
    Effect.sync(() => `${run.input} @ ${run.scheduledAt.toISOString()}`),
  ),
)
const echo = defineWorkflow("effect-echo", (ctx, text: string) =>
  ctx.step(
    "echo",
    Effect.sync(() => text),
  ),
)
const nightly = defineSchedule("effect-nightly", {
  cron: "0 2 * * *",
  timezone: "Europe/Paris",
  workflow: report,
  input: "sales",
})

/** "The report runs at 2:00 on Sundays in Paris". */
const sundayReport = defineSchedule("effect-sunday", {
  cron: "0 2 * * 0",
  timezone: "Europe/Paris",
  workflow: report,
  input: "weekly",
})

/** The instants of the schedule's ticks that ran (from their ids), oldest first. */
const ticks = async (t: TestEngine, schedule: string) =>
  (await Effect.runPromise(t.store.listWorkflows({ limit: 10_000 })))
    .map((r) => r.id)
    .filter((id) => id.startsWith(`@schedule:${schedule}:`))
    .map((id) => id.slice(`@schedule:${schedule}:`.length))
    .sort()

/** An instant's wall clock in Paris, e.g. "Sun 02:00". */
const paris = (iso: string) =>
  new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/Paris",
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso))

const layer = Durably.layer({
  store: memoryStore(),
  workflows: [report, echo],
  schedules: [nightly],
  logger: false,
}) as Layer.Layer<Durably, unknown>

describe("Effect flavour: schedules and debounce", () => {
  it("schedules.* are Effects: list shows the code schedule, trigger runs it, a missing name fails with ScheduleNotFound", async () => {
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        const durably = yield* Durably
        const listed = yield* durably.schedules.list()
        const handle = yield* durably.schedules.trigger("effect-nightly")
        const missing = yield* Effect.flip(durably.schedules.pause("nope"))
        return {
          names: listed.map((s) => [s.name, s.origin, s.timezone]),
          result: yield* Effect.promise(() => handle.result()),
          missing,
        }
      }).pipe(Effect.provide(layer)),
    )
    expect(out.names).toEqual([["effect-nightly", "code", "Europe/Paris"]])
    expect(out.result).toMatch(/^sales @ /)
    expect(out.missing).toBeInstanceOf(ScheduleNotFound)
  })

  it("an Effect report at 02:00 on Sundays in Paris fires on the virtual clock, once a week, across both DST changes", async () => {
    // Spring forward: Sunday 29 March 2026, 02:00 CET does not exist (clocks go to 03:00 CEST): it runs at
    // 03:00 CEST, the first instant after the change. Fall back: Sunday 25 October, 02:00 happens twice: it
    // runs once, at the first (CEST). Either side of a change the same wall clock is another UTC instant.
    const spring = await testEngine({
      workflows: [report],
      schedules: [sundayReport],
      startAt: new Date("2026-03-21T12:00:00Z"),
    })
    await spring.advance("16 days")
    const springTicks = await ticks(spring, "effect-sunday")
    expect(springTicks).toEqual(["2026-03-22T01:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-04-05T00:00:00.000Z"])
    expect(springTicks.map(paris)).toEqual(["Sun 02:00", "Sun 03:00", "Sun 02:00"])
    const dstRun = await spring.handle<string>("@schedule:effect-sunday:2026-03-29T01:00:00.000Z").result()
    expect(dstRun).toBe("weekly @ 2026-03-29T01:00:00.000Z")
    await spring.shutdown()

    const fall = await testEngine({
      workflows: [report],
      schedules: [sundayReport],
      startAt: new Date("2026-10-17T12:00:00Z"),
    })
    await fall.advance("16 days")
    const autumn = await ticks(fall, "effect-sunday")
    expect(autumn).toEqual(["2026-10-18T00:00:00.000Z", "2026-10-25T00:00:00.000Z", "2026-11-01T01:00:00.000Z"])
    expect(autumn.map(paris)).toEqual(["Sun 02:00", "Sun 02:00", "Sun 02:00"])
    await fall.shutdown()
    // The virtual clock steps through the runner's hourly re-plans (about 400 per engine): room under load.
  }, 120_000)

  it("Effect ctx.debounce on the virtual clock: a burst of calls is one run, started at maxWait", async () => {
    const caller = defineWorkflow("effect-debounce-caller", (ctx, text: string) =>
      Effect.map(ctx.debounce(echo, "burst", text, { delay: "30 seconds", maxWait: "1 minute" }), (h) => h.id),
    )
    const t = await testEngine({ workflows: [echo, caller], startAt: new Date("2026-01-01T00:00:00Z") })
    const ids = new Set<string>()
    // Calls at 0, 20 and 40 s: each pushes the start to 30 s after it, but maxWait caps it at 60 s (not 70).
    for (let i = 0; i < 3; i++) {
      if (i > 0) await t.advance("20 seconds")
      ids.add(await (await t.start(caller, `call-${i}`)).result())
    }
    expect(ids.size).toBe(1)
    const run = t.handle<string>([...ids][0]!)
    await t.advance("19 seconds")
    expect((await run.status()).status).toBe("DELAYED")
    await t.advance("1 second")
    expect((await run.status()).status).toBe("SUCCESS")
    expect(await run.result()).toBe("call-2")
    await t.shutdown()
  })

  it("debounce collapses calls into one run whose handle's result is an Effect (virtual clock)", async () => {
    // On the test kit's virtual clock: no time passes between the two calls, so the run cannot start before
    // the second one arrives, however loaded the machine is.
    const t = await testEngine({ workflows: [echo], startAt: new Date("2026-01-01T00:00:00Z") })
    const durably = Durably.fromPromise(t)
    const [a, b] = await Effect.runPromise(
      Effect.all([
        durably.debounce(echo, "k", "first", { delay: "200 millis" }),
        durably.debounce(echo, "k", "last", { delay: "200 millis" }),
      ]),
    )
    expect(b.id).toBe(a.id)
    await t.advance("199 millis")
    expect((await Effect.runPromise(b.status)).status).toBe("DELAYED")
    await t.advance("1 millis")
    expect(await Effect.runPromise(b.result)).toBe("last")
    await t.shutdown()
  })
})
