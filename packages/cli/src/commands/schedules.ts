/** `durably schedules list | get | pause | resume | trigger | backfill`: cron schedules stored in the database. */
import { InvalidArgument, type ScheduleInfo } from "@durably/core"
import { parseInstant } from "@durably/dashboard/query"
import type { Command } from "../command.ts"
import { CliFailure, ExitCode, usageError } from "../exitCodes.ts"

const nameArg = [{ name: "name", description: "the schedule's name" }]

const entries = (s: ScheduleInfo): ReadonlyArray<readonly [string, unknown]> => [
  ["name", s.name],
  ["workflow", s.workflow],
  ["cron", `${s.cron} (${s.timezone})`],
  ["paused", s.paused ? "yes" : "no"],
  ["next tick", s.nextTick],
  ["last tick", s.lastTick],
  ["catch up", s.catchUp === "all" ? `all (at most ${s.maxCatchUp})` : s.catchUp],
  ["queue", s.queue],
  ["input", s.input],
  ["origin", s.origin],
  ["created", s.createdAt],
  ["updated", s.updatedAt],
]

/** A client cannot start a schedule's workflow itself (only enqueue it): that refusal is about the schedule. */
const refusedOnState = async <A>(run: () => Promise<A>): Promise<A> => {
  try {
    return await run()
  } catch (e) {
    if (e instanceof InvalidArgument) throw new CliFailure(ExitCode.refused, e.message, { cause: e })
    throw e
  }
}

const found = async (s: Promise<ScheduleInfo | undefined>, name: string) => {
  const info = await s
  if (!info) throw new CliFailure(ExitCode.notFound, `no schedule is named ${JSON.stringify(name)}`)
  return info
}

export const schedulesListCommand: Command = {
  path: ["schedules", "list"],
  summary: "every schedule: cron, time zone, next tick, paused or not",
  run: async (ctx) => {
    const schedules = await (await ctx.client()).schedules.list()
    ctx.out.list(schedules, [
      { header: "NAME", get: (s) => s.name },
      { header: "WORKFLOW", get: (s) => s.workflow },
      { header: "CRON", get: (s) => s.cron },
      { header: "TIMEZONE", get: (s) => s.timezone },
      { header: "NEXT TICK", get: (s) => (s.paused ? "paused" : s.nextTick) },
      { header: "LAST TICK", get: (s) => s.lastTick },
      { header: "QUEUE", get: (s) => s.queue },
      { header: "ORIGIN", get: (s) => s.origin },
    ])
  },
}

export const schedulesGetCommand: Command = {
  path: ["schedules", "get"],
  summary: "one schedule's settings and ticks",
  args: nameArg,
  run: async (ctx) => {
    const name = ctx.parsed.args[0]!
    const s = await found((await ctx.client()).schedules.get(name), name)
    ctx.out.record(s, entries(s))
  },
}

const toggle = (verb: "pause" | "resume"): Command => ({
  path: ["schedules", verb],
  summary:
    verb === "pause" ? "stop a schedule's ticks" : "start a paused schedule's ticks again (missed ones are skipped)",
  args: nameArg,
  run: async (ctx) => {
    const name = ctx.parsed.args[0]!
    const client = await ctx.client()
    const s = await (verb === "pause" ? client.schedules.pause(name) : client.schedules.resume(name))
    ctx.out.done(
      `${verb === "pause" ? "Paused" : "Resumed"}: ${name}${s.nextTick ? ` (next tick ${s.nextTick.toISOString()})` : ""}`,
      s,
    )
  },
})

export const schedulesPauseCommand = toggle("pause")
export const schedulesResumeCommand = toggle("resume")

export const schedulesTriggerCommand: Command = {
  path: ["schedules", "trigger"],
  summary: "run a schedule's workflow once now (its own run, not a tick)",
  details: "From the CLI this needs a schedule that enqueues its ticks (a queue): the CLI runs no workflow itself.",
  args: nameArg,
  run: async (ctx) => {
    const name = ctx.parsed.args[0]!
    const client = await ctx.client()
    const handle = await refusedOnState(() => client.schedules.trigger(name))
    ctx.out.done(handle.id, { id: handle.id, schedule: name })
  },
}

export const schedulesBackfillCommand: Command = {
  path: ["schedules", "backfill"],
  summary: "run the ticks of a past range, each exactly once (ticks that ran are attached to, not rerun)",
  args: nameArg,
  flags: {
    from: {
      type: "string",
      placeholder: "TIME",
      description: "first tick instant: ISO 8601 or a duration ago (required)",
    },
    to: { type: "string", placeholder: "TIME", description: "last tick instant (default now)" },
  },
  run: async (ctx) => {
    const name = ctx.parsed.args[0]!
    const fromText = ctx.parsed.string("from")
    if (fromText === undefined) throw usageError("backfill needs --from (e.g. 2026-03-01T00:00:00Z or 7d)")
    const now = Date.now()
    const from = parseInstant("--from", fromText, now)
    const toText = ctx.parsed.string("to")
    const to = toText === undefined ? new Date(now) : parseInstant("--to", toText, now)
    const client = await ctx.client()
    const handles = await refusedOnState(() => client.schedules.backfill(name, from, to))
    const ids = handles.map((h) => h.id)
    if (ctx.out.json) ctx.out.done("", { ids })
    else ctx.out.done(`Backfilled ${ids.length} ticks${ids.length ? `\n${ids.join("\n")}` : ""}`, { ids })
  },
}
