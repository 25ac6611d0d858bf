/** Schedules and debounce in the Effect flavour: the same surface as Effects, typed errors in the channel. */
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import { Durably, ScheduleNotFound, defineWorkflow, memoryStore, type ScheduledRun } from "@durably/core/effect"
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

  it("debounce collapses calls into one run whose handle's result is an Effect", async () => {
    const out = await Effect.runPromise(
      Effect.gen(function* () {
        const durably = yield* Durably
        const a = yield* durably.debounce(echo, "k", "first", { delay: "200 millis" })
        const b = yield* durably.debounce(echo, "k", "last", { delay: "200 millis" })
        return { same: a.id === b.id, result: yield* b.result }
      }).pipe(Effect.provide(layer)),
    )
    expect(out).toEqual({ same: true, result: "last" })
  })
})
