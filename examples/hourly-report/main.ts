/**
 * `pnpm example:hourly-report`: the hourly job. A report workflow runs at the top of every hour, Paris time
 * (`defineSchedule` with a cron and a zone); each run receives the hour it is for (`scheduledAt`) and builds
 * that hour's report in a step. Every worker launched with the schedule fires its ticks, and each tick runs
 * once in all: its workflow id is derived from the schedule and the instant.
 *
 * An hour is long to wait, so the script shows the rest with what an operator has at hand:
 *   1. `schedules.backfill` runs the last three hours' reports (past ticks, each exactly once), and a second
 *      backfill of the same range attaches to them instead of running them again;
 *   2. `schedules.trigger` runs a report now, off the clock;
 *   3. a per-second schedule created at runtime (`schedules.create`) ticks live for a few seconds, then is
 *      paused: its ticks are exactly the seconds that passed.
 * It exits non-zero if any of that does not hold.
 *
 * Runs on the embedded store (PGlite in .durably/hourly-report, wiped first), or on Postgres when
 * DATABASE_URL is set.
 */
import { setTimeout as sleep } from "node:timers/promises"
import { defineWorkflow, type ScheduledRun } from "@durably/core"
import { defineSchedule } from "@durably/scheduler"
import { setUpExample } from "../shared/setup.ts"

const { run, say, launch } = setUpExample("hourly-report", "an hourly report, Paris time")

// ---- The job: a report of one hour of (simulated) orders -------------------------------------------------

/** Orders placed in the hour starting at `from`: derived from the hour, so every run agrees. */
const ordersIn = (from: Date) => {
  const h = from.getUTCHours()
  return Array.from({ length: 3 + (h % 5) }, (_, i) => ({
    id: `${from.toISOString()}#${i}`,
    cents: 1000 + 137 * i * h,
  }))
}

interface HourlyReport {
  readonly hour: string
  readonly orders: number
  readonly revenueCents: number
}

const hourlyReport = defineWorkflow("hourly-report", async (ctx, tick: ScheduledRun<{ region: string }>) => {
  const from = new Date(tick.scheduledAt.getTime() - 3_600_000)
  const report = await ctx.step("build report", () => {
    const orders = ordersIn(from)
    return { hour: from.toISOString(), orders: orders.length, revenueCents: orders.reduce((s, o) => s + o.cents, 0) }
  })
  ctx.log.info(
    `${tick.input.region} report for the hour before ${tick.scheduledAt.toISOString()}: ${report.orders} orders, ${(report.revenueCents / 100).toFixed(2)} €`,
  )
  return report satisfies HourlyReport
})

// At minute 0 of every hour in Paris: summer and winter time alike, no hour run twice or skipped.
const hourly = defineSchedule(`hourly-report${run}`, {
  cron: "0 * * * *",
  timezone: "Europe/Paris",
  workflow: hourlyReport,
  catchUp: "latest", // after an outage, run the last missed hour's report (not all of them)
  input: { region: "EU" },
})

/** A heartbeat to watch ticks live: notes the second it is for. */
const seen: string[] = []
const pulse = defineWorkflow("pulse", async (ctx, tick: ScheduledRun) =>
  ctx.step("note", () => void seen.push(tick.scheduledAt.toISOString())),
)

// ---- Run it ------------------------------------------------------------------------------------------------

const watchdog = setTimeout(() => {
  console.error("\nFAILED: the example did not finish within 60 seconds")
  process.exit(1)
}, 60_000)
watchdog.unref()

const failures: string[] = []
const check = (ok: boolean, what: string) => {
  if (!ok) failures.push(what)
  say(`${ok ? "ok" : "FAILED"}: ${what}`)
}

const durably = await launch({ workflows: [hourlyReport, pulse], schedules: [hourly] })
try {
  const info = await durably.schedules.get(hourly.name)
  say(`schedule ${hourly.name}: "${info?.cron}" in ${info?.timezone}; next tick ${info?.nextTick?.toISOString()}`)

  // 1. The last three hours, exactly once each.
  const top = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000)
  const from = new Date(top.getTime() - 2 * 3_600_000)
  const backfilled = await durably.schedules.backfill(hourly.name, from, top)
  const reports = await Promise.all(backfilled.map((h) => h.result() as Promise<HourlyReport>))
  check(reports.length === 3, `backfill ran ${reports.length} reports for ${from.toISOString()} … ${top.toISOString()}`)
  const again = await durably.schedules.backfill(hourly.name, from, top)
  check(
    again.every((h, i) => h.id === backfilled[i]!.id),
    "a second backfill of the same hours attached to the same runs (ids like " + backfilled[0]!.id + ")",
  )

  // 2. One report now, off the clock.
  const manual = await durably.schedules.trigger(hourly.name)
  const now = (await manual.result()) as HourlyReport
  check(now.orders > 0, `trigger ran a report now (${manual.id})`)

  // 3. A schedule made at runtime (by an operator, another service or the CLI), ticking every second, then paused.
  await durably.schedules.create(`pulse${run}`, { cron: "* * * * * *", workflow: pulse })
  say(`created schedule pulse${run} at runtime: every second`)
  while (seen.length < 4) await sleep(50)
  await durably.schedules.pause(`pulse${run}`)
  await sleep(300) // a tick in flight when the pause committed may still land
  const ticks = [...new Set(seen)].sort().map((t) => Date.parse(t))
  check(
    ticks.length === seen.length && ticks.every((t, i) => i === 0 || t - ticks[i - 1]! === 1000),
    `${ticks.length} pulse ticks, one per second, each once, then paused`,
  )
} finally {
  await durably.shutdown()
}

if (failures.length > 0) {
  console.error(`\nFAILED: ${failures.join("; ")}`)
  process.exit(1)
}
console.log("\nEvery report ran exactly once.")
