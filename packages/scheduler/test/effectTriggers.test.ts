/** Schedules and debounce in the Effect flavour: the same surface as Effects, typed errors in the channel. */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { Durably, ScheduleNotFound, defineWorkflow, memoryStore, type ScheduledRun } from "@durably/core/effect"
import { testEngine } from "@durably/core/testing"
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
