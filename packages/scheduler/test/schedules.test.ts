/**
 * Schedules on the test kit: the virtual clock fires ticks, so a month of an hourly schedule, the
 * daylight-saving days of two zones and an outage all run in milliseconds, with every instant exact.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { defineWorkflow, InvalidArgument, ScheduleExists, ScheduleNotFound, type ScheduledRun } from "@durably/core"
import { testEngine, type TestEngine } from "@durably/core/testing"
import { defineSchedule } from "../src/index.ts"

const report = defineWorkflow("report", async (ctx, run: ScheduledRun<{ team: string } | undefined>) =>
  ctx.step("build", () => ({
    at: run.scheduledAt.toISOString(),
    started: run.startedAt.toISOString(),
    input: run.input,
  })),
)

/** The ids of every run of the schedule (`@schedule:<name>:<ISO instant>`), sorted (so oldest tick first). */
const runsOf = async (t: TestEngine, schedule: string) =>
  (await Effect.runPromise(t.store.listWorkflows({ limit: 100_000 })))
    .map((r) => r.id)
    .filter((id) => id.startsWith(`@schedule:${schedule}:`))
    .sort()

/** The tick instants that ran, as ISO strings. */
const tickTimes = async (t: TestEngine, schedule: string) =>
  (await runsOf(t, schedule)).map((id) => id.slice(`@schedule:${schedule}:`.length))

describe("schedules on the virtual clock", () => {
  it("a month of an hourly schedule fires exactly 24 × 30 ticks, each once, with its instants", async () => {
    const hourly = defineSchedule("hourly", { cron: "0 * * * *", workflow: report })
    const t = await testEngine({ workflows: [report], schedules: [hourly], startAt: new Date("2026-04-01T00:00:00Z") })
    await t.advance("30 days")
    const times = await tickTimes(t, "hourly")
    expect(times).toHaveLength(24 * 30)
    expect(new Set(times).size).toBe(24 * 30)
    expect(times[0]).toBe("2026-04-01T01:00:00.000Z")
    expect(times.at(-1)).toBe("2026-05-01T00:00:00.000Z")
    const last = await t.handle("@schedule:hourly:2026-05-01T00:00:00.000Z").result()
    expect(last).toEqual({ at: "2026-05-01T00:00:00.000Z", started: "2026-05-01T00:00:00.000Z" })
    await t.shutdown()
  })

  it("Europe/Paris: 02:30 daily runs once on the spring-forward day (at 03:30, 02:30 does not exist) and once on the fall-back day", async () => {
    const daily = defineSchedule("paris", { cron: "30 2 * * *", timezone: "Europe/Paris", workflow: report })
    const t = await testEngine({ workflows: [report], schedules: [daily], startAt: new Date("2026-03-27T12:00:00Z") })
    await t.advance("4 days")
    expect(await tickTimes(t, "paris")).toEqual([
      "2026-03-28T01:30:00.000Z", // 02:30 CET
      "2026-03-29T01:30:00.000Z", // the day the clock jumps 02:00 → 03:00: once, at 03:30 CEST
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
      "2026-03-31T00:30:00.000Z",
    ])
    await t.shutdown()
    const u = await testEngine({ workflows: [report], schedules: [daily], startAt: new Date("2026-10-23T12:00:00Z") })
    await u.advance("4 days")
    expect(await tickTimes(u, "paris")).toEqual([
      "2026-10-24T00:30:00.000Z", // 02:30 CEST
      "2026-10-25T00:30:00.000Z", // 02:30 happens twice that night: only the first
      "2026-10-26T01:30:00.000Z", // 02:30 CET
      "2026-10-27T01:30:00.000Z",
    ])
    await u.shutdown()
  })

  it("America/New_York: 02:00 and 01:30 daily run once on both change days", async () => {
    const two = defineSchedule("ny-two", { cron: "0 2 * * *", timezone: "America/New_York", workflow: report })
    const half = defineSchedule("ny-half", { cron: "30 1 * * *", timezone: "America/New_York", workflow: report })
    const t = await testEngine({
      workflows: [report],
      schedules: [two, half],
      startAt: new Date("2026-03-07T12:00:00Z"),
    })
    await t.advance("2 days")
    // 2026-03-08: 02:00 does not exist (02:00 EST → 03:00 EDT): once, at 03:00 EDT.
    expect(await tickTimes(t, "ny-two")).toEqual(["2026-03-08T07:00:00.000Z", "2026-03-09T06:00:00.000Z"])
    expect(await tickTimes(t, "ny-half")).toEqual(["2026-03-08T06:30:00.000Z", "2026-03-09T05:30:00.000Z"])
    await t.shutdown()
    const u = await testEngine({
      workflows: [report],
      schedules: [two, half],
      startAt: new Date("2026-10-31T12:00:00Z"),
    })
    await u.advance("2 days")
    // 2026-11-01: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST): only the first.
    expect(await tickTimes(u, "ny-half")).toEqual(["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z"])
    expect(await tickTimes(u, "ny-two")).toEqual(["2026-11-01T07:00:00.000Z", "2026-11-02T07:00:00.000Z"])
    await u.shutdown()
  })

  it("an hourly schedule in a zone follows real time: 23 ticks on the spring-forward day, 25 on the fall-back day", async () => {
    const hourly = defineSchedule("paris-hourly", { cron: "0 * * * *", timezone: "Europe/Paris", workflow: report })
    const t = await testEngine({ workflows: [report], schedules: [hourly], startAt: new Date("2026-03-28T23:00:00Z") })
    await t.advance("23 hours") // 2026-03-29 00:00 → 24:00 Paris
    expect(await tickTimes(t, "paris-hourly")).toHaveLength(23)
    await t.shutdown()
    const u = await testEngine({ workflows: [report], schedules: [hourly], startAt: new Date("2026-10-24T22:00:00Z") })
    await u.advance("25 hours") // 2026-10-25 00:00 → 24:00 Paris
    const times = await tickTimes(u, "paris-hourly")
    expect(times).toHaveLength(25)
    expect(new Set(times).size).toBe(25)
    await u.shutdown()
  })

  describe("after a 5-hour outage", () => {
    const outage = async (catchUp: "none" | "latest" | "all", maxCatchUp?: number) => {
      const s = defineSchedule("outage", {
        cron: "0 * * * *",
        workflow: report,
        catchUp,
        ...(maxCatchUp === undefined ? {} : { maxCatchUp }),
      })
      const t = await testEngine({ workflows: [report], schedules: [s], startAt: new Date("2026-01-01T00:00:00Z") })
      await t.advance("90 minutes") // 01:00 runs
      await t.crash()
      await t.advance("5 hours") // 02:00 … 06:00 are due while nothing runs
      await t.restart() // at 06:30
      await t.settle()
      const afterRestart = await tickTimes(t, "outage")
      await t.advance("30 minutes") // 07:00 runs on time whatever the policy
      const later = await tickTimes(t, "outage")
      await t.shutdown()
      return { afterRestart: afterRestart.map((x) => x.slice(11, 16)), later: later.map((x) => x.slice(11, 16)) }
    }

    it('"none" (the default) skips every missed tick', async () => {
      expect(await outage("none")).toEqual({ afterRestart: ["01:00"], later: ["01:00", "07:00"] })
    })
    it('"latest" runs only the most recent missed tick', async () => {
      expect(await outage("latest")).toEqual({ afterRestart: ["01:00", "06:00"], later: ["01:00", "06:00", "07:00"] })
    })
    it('"all" runs every missed tick', async () => {
      const { later } = await outage("all")
      expect(later).toEqual(["01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00"])
    })
    it('"all" with maxCatchUp runs the most recent ones only', async () => {
      const { later } = await outage("all", 2)
      expect(later).toEqual(["01:00", "05:00", "06:00", "07:00"])
    })
  })

  it("a tick fired again (a second engine on the same store, or after a crash) attaches instead of running twice", async () => {
    let bodies = 0
    const counted = defineWorkflow("counted", async (ctx, _run: ScheduledRun) => ctx.step("count", () => ++bodies))
    const s = defineSchedule("twice", { cron: "*/10 * * * *", workflow: counted })
    const t = await testEngine({ workflows: [counted], schedules: [s], startAt: new Date("2026-01-01T00:00:00Z") })
    await t.advance("10 minutes")
    expect(bodies).toBe(1)
    // Force a second look at the same instant: the runner's progress is rolled back, as if a process had died
    // after starting the tick but before recording it.
    await Effect.runPromise(t.store.updateSchedule("twice", { lastTick: Date.parse("2026-01-01T00:05:00Z") }))
    await t.settle()
    expect(bodies).toBe(1)
    expect(await tickTimes(t, "twice")).toEqual(["2026-01-01T00:10:00.000Z"])
    await t.shutdown()
  })
})

describe("runtime schedules (durably.schedules)", () => {
  it("a schedule's input is held to maxPayloadBytes like any input: at create, update and launch", async () => {
    const big = { team: "x".repeat(2_000) }
    const t = await testEngine({ workflows: [report], maxPayloadBytes: 1_000 })
    const options = { cron: "@hourly", workflow: report, input: big }
    await expect(t.schedules.create("big", options)).rejects.toMatchObject({
      _tag: "PayloadTooLargeError",
      maxBytes: 1_000,
      what: 'input of schedule "big"',
    })
    expect(await t.schedules.list()).toEqual([])
    await t.schedules.create("small", { ...options, input: { team: "ops" } })
    await expect(t.schedules.update("small", { input: big })).rejects.toMatchObject({ _tag: "PayloadTooLargeError" })
    expect((await t.schedules.get("small"))?.input).toEqual({ team: "ops" })
    await expect(
      testEngine({ workflows: [report], schedules: [defineSchedule("big", options)], maxPayloadBytes: 1_000 }),
    ).rejects.toMatchObject({ _tag: "PayloadTooLargeError" })
  })

  it("create, list, get: the workflow receives scheduledAt, startedAt and the input", async () => {
    const t = await testEngine({ workflows: [report], startAt: new Date("2026-01-01T00:00:00Z") })
    const info = await t.schedules.create("daily-team", {
      cron: "0 9 * * 1-5",
      timezone: "Europe/Paris",
      workflow: report,
      input: { team: "ops" },
    })
    expect(info).toMatchObject({
      name: "daily-team",
      workflow: "report",
      timezone: "Europe/Paris",
      catchUp: "none",
      paused: false,
      origin: "runtime",
      input: { team: "ops" },
      nextTick: new Date("2026-01-01T08:00:00Z"),
    })
    expect((await t.schedules.list()).map((s) => s.name)).toEqual(["daily-team"])
    await t.advance("1 day")
    const [id] = await runsOf(t, "daily-team")
    expect(await t.handle(id!).result()).toEqual({
      at: "2026-01-01T08:00:00.000Z",
      started: "2026-01-01T08:00:00.000Z",
      input: { team: "ops" },
    })
    expect((await t.schedules.get("daily-team"))?.nextTick).toEqual(new Date("2026-01-02T08:00:00Z"))
    expect(await t.schedules.get("nope")).toBeUndefined()
    await t.shutdown()
  })

  it("pause stops ticks; resume skips the paused ones and runs the next; update changes the cron; delete stops it", async () => {
    const t = await testEngine({ workflows: [report], startAt: new Date("2026-01-01T00:00:00Z") })
    await t.schedules.create("h", { cron: "@hourly", workflow: report, catchUp: "all" })
    await t.advance("1 hour")
    expect(await tickTimes(t, "h")).toHaveLength(1)
    await t.schedules.pause("h")
    await t.advance("3 hours")
    expect(await tickTimes(t, "h")).toHaveLength(1)
    expect((await t.schedules.get("h"))?.paused).toBe(true)
    await t.schedules.resume("h") // at 04:00: 02:00–04:00 were paused, not missed
    await t.advance("1 hour")
    expect((await tickTimes(t, "h")).map((x) => x.slice(11, 16))).toEqual(["01:00", "05:00"])
    await t.schedules.update("h", { cron: "*/15 * * * *" })
    await t.advance("30 minutes")
    expect((await tickTimes(t, "h")).map((x) => x.slice(11, 16))).toEqual(["01:00", "05:00", "05:15", "05:30"])
    await t.schedules.delete("h")
    await t.advance("1 hour")
    expect(await tickTimes(t, "h")).toHaveLength(4)
    await expect(t.schedules.delete("h")).rejects.toBeInstanceOf(ScheduleNotFound)
    await expect(t.schedules.pause("h")).rejects.toBeInstanceOf(ScheduleNotFound)
    await t.shutdown()
  })

  it("trigger runs once now; backfill runs a past range's ticks exactly once, also when asked twice", async () => {
    const t = await testEngine({ workflows: [report], startAt: new Date("2026-01-10T00:00:00Z") })
    await t.schedules.create("d", { cron: "0 6 * * *", workflow: report })
    const manual = await t.schedules.trigger("d")
    expect(manual.id).toMatch(/^@schedule:d:trigger:/)
    expect(await manual.result()).toMatchObject({ at: "2026-01-10T00:00:00.000Z" })
    const from = new Date("2026-01-01T06:00:00Z")
    const to = new Date("2026-01-03T12:00:00Z")
    const first = await t.schedules.backfill("d", from, to)
    expect(first.map((h) => h.id)).toEqual([
      "@schedule:d:2026-01-01T06:00:00.000Z",
      "@schedule:d:2026-01-02T06:00:00.000Z",
      "@schedule:d:2026-01-03T06:00:00.000Z",
    ])
    await t.settle()
    const again = await t.schedules.backfill("d", from, to)
    expect(again.map((h) => h.id)).toEqual(first.map((h) => h.id))
    await t.settle()
    expect(await runsOf(t, "d")).toHaveLength(4) // three ticks and the manual run
    await expect(t.schedules.backfill("d", to, from)).rejects.toBeInstanceOf(InvalidArgument)
    await t.shutdown()
  })

  it("one namespace: create refuses a name a code schedule has; a code schedule takes over a runtime one, with a warning", async () => {
    const code = defineSchedule("shared", { cron: "0 * * * *", workflow: report })
    const logs: string[] = []
    const t = await testEngine({ workflows: [report], schedules: [code] })
    const refused = await t.schedules.create("shared", { cron: "0 0 * * *", workflow: report }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ScheduleExists)
    expect((refused as ScheduleExists).origin).toBe("code")
    await t.shutdown()

    const u = await testEngine({ workflows: [report] })
    await u.schedules.create("shared", { cron: "0 0 * * *", workflow: report })
    const v = await testEngine({
      workflows: [report],
      schedules: [code],
      store: u.store,
      logger: (e) => void logs.push(e.message),
    })
    expect(await v.schedules.get("shared")).toMatchObject({ origin: "code", cron: "0 * * * *" })
    expect(logs.some((m) => m.includes("code wins"))).toBe(true)
    await v.shutdown()
    await u.shutdown()
  })
})

describe("bad input fails at the definition, naming the field", () => {
  it.each([
    [{ cron: "61 * * * *" }, /cron "61 \* \* \* \*" is not valid/],
    [{ cron: "* * *" }, /must have 5 fields/],
    [{ cron: "@fortnightly" }, /cron "@fortnightly" is not valid/],
    [{ cron: "0 * * * *", timezone: "Mars/Olympus" }, /timezone "Mars\/Olympus" is not a known IANA time zone/],
    [{ cron: "0 * * * *", catchUp: "some" }, /catchUp must be "none", "latest" or "all"/],
    [{ cron: "0 * * * *", maxCatchUp: 0 }, /maxCatchUp must be a whole number/],
    [{ cron: "0 * * * *", every: "hour" }, /unknown option "every"/],
  ])("%j", (options, message) => {
    expect(() => defineSchedule("bad", { workflow: report, ...options } as never)).toThrow(message)
    expect(() => defineSchedule("bad", { workflow: report, ...options } as never)).toThrow(InvalidArgument)
  })

  it("schedules.create refuses the same, and a launch refuses two schedules with one name", async () => {
    const t = await testEngine({ workflows: [report] })
    await expect(
      t.schedules.create("x", { cron: "0 0 * * *", timezone: "Nowhere/Land", workflow: report }),
    ).rejects.toThrow(/timezone "Nowhere\/Land"/)
    await expect(t.schedules.update("x", { cron: "0 0 * * *" })).rejects.toBeInstanceOf(ScheduleNotFound)
    await t.schedules.create("x", { cron: "0 0 * * *", workflow: report })
    await expect(t.schedules.update("x", { cron: "0 0 32 * *" })).rejects.toThrow(/cron "0 0 32 \* \*" is not valid/)
    await t.shutdown()
    const a = defineSchedule("dup", { cron: "0 * * * *", workflow: report })
    const b = defineSchedule("dup", { cron: "30 * * * *", workflow: report })
    await expect(testEngine({ workflows: [report], schedules: [a, b] })).rejects.toThrow(
      /two schedules are named "dup"/,
    )
  })
})
