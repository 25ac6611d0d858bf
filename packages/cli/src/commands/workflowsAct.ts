/**
 * `durably workflows cancel | resume | fork | delete | prune`. Cancel and resume take one id, or a filter for
 * many at once, which needs --yes (without it they say how many would be affected and change nothing).
 */
import { InvalidArgument, type BulkResult, type DurablyClient, type WorkflowFilter } from "@durably/core"
import { isEmptyFilter, parseDuration } from "@durably/dashboard/query"
import type { CommandContext, Command } from "../command.ts"
import { CliFailure, ExitCode, usageError } from "../exitCodes.ts"
import { filterFlags, filterOf } from "./filterFlags.ts"

const idArg = [{ name: "id", description: "the workflow's id" }]
const optionalId = [{ name: "id", description: "the workflow's id (or filters, for many at once)", optional: true }]

/**
 * A workflow id was given, so an InvalidArgument can only be about the workflow's state (resuming a
 * running one, forking from a step it does not have): report it as refused.
 */
const refusedOnState = async <A>(run: () => Promise<A>): Promise<A> => {
  try {
    return await run()
  } catch (e) {
    if (e instanceof InvalidArgument) throw new CliFailure(ExitCode.refused, e.message, { cause: e })
    throw e
  }
}

/** One id, or a non-empty filter with --yes. */
const oneOrMany = async (
  ctx: CommandContext,
  verb: string,
  action: string,
  one: (client: DurablyClient, id: string) => Promise<void>,
  many: (client: DurablyClient, filter: WorkflowFilter) => Promise<BulkResult>,
) => {
  const id = ctx.parsed.args[0]
  const filter = filterOf(ctx.parsed)
  if (id !== undefined) {
    if (!isEmptyFilter(filter)) throw usageError(`give a workflow id or filters, not both`)
    const client = await ctx.client()
    await refusedOnState(() => one(client, id))
    ctx.out.done(`${verb}: ${id}`, { ids: [id] })
    return
  }
  if (isEmptyFilter(filter))
    throw usageError(`give a workflow id, or filters (--status, --name, …) to ${action} many at once`)
  const client = await ctx.client()
  if (!ctx.parsed.bool("yes")) {
    const count = await client.workflows.count(filter)
    throw usageError(`${count} workflows match; add --yes to ${action} them`)
  }
  const { ids } = await many(client, filter)
  if (ctx.out.json) ctx.out.done("", { ids })
  else ctx.out.done(`${verb}: ${ids.length} workflows${ids.length ? `\n${ids.join("\n")}` : ""}`, { ids })
}

const yes = { yes: { type: "boolean", description: "with filters: do it (without, only count what matches)" } } as const

export const cancelCommand: Command = {
  path: ["workflows", "cancel"],
  summary: "cancel a workflow (and its children), or every unfinished one that matches the filters",
  args: optionalId,
  flags: {
    ...filterFlags,
    ...yes,
    "no-children": { type: "boolean", description: "leave its children running" },
  },
  run: async (ctx) => {
    const options = { children: !ctx.parsed.bool("no-children") }
    await oneOrMany(
      ctx,
      "Cancelled",
      "cancel",
      (c, id) => c.workflows.cancel(id, options),
      (c, f) => c.workflows.cancelMany(f, options),
    )
  },
}

export const resumeCommand: Command = {
  path: ["workflows", "resume"],
  summary: "run a cancelled, failed, dead or timed-out workflow again from its last checkpoint",
  details:
    "With --app-version, move it to that version (a workflow stranded on a version no executor runs):\n" +
    "only when the new code replays its history.",
  args: optionalId,
  flags: {
    ...filterFlags,
    ...yes,
    "to-version": { type: "string", placeholder: "VERSION", description: "resume it under this app version" },
  },
  run: async (ctx) => {
    const to = ctx.parsed.string("to-version")
    const options = to === undefined ? {} : { appVersion: to }
    await oneOrMany(
      ctx,
      "Resumed",
      "resume",
      (c, id) => c.workflows.resume(id, options),
      (c, f) => c.workflows.resumeMany(f, options),
    )
  },
}

export const forkCommand: Command = {
  path: ["workflows", "fork"],
  summary: "start a new workflow that reuses a workflow's checkpoints before a step and runs live from it",
  args: idArg,
  flags: {
    "from-step": {
      type: "string",
      placeholder: "STEP",
      description: "the first step to run live: its number (see workflows steps) or name (required)",
    },
    id: { type: "string", placeholder: "ID", description: "the new workflow's id (default: a fresh UUIDv7)" },
    "to-version": { type: "string", placeholder: "VERSION", description: "run it under this app version" },
    queue: { type: "string", placeholder: "QUEUE", description: "put it on this queue" },
  },
  run: async (ctx) => {
    const from = ctx.parsed.string("from-step")
    if (from === undefined) throw usageError("fork needs --from-step (a step number or name)")
    const fromStep = /^\d+$/.test(from) ? Number(from) : from
    const id = ctx.parsed.string("id")
    const version = ctx.parsed.string("to-version")
    const queue = ctx.parsed.string("queue")
    const client = await ctx.client()
    const source = ctx.parsed.args[0]!
    const forked = await refusedOnState(() =>
      client.workflows.fork(source, {
        fromStep,
        ...(id === undefined ? {} : { id }),
        ...(version === undefined ? {} : { appVersion: version }),
        ...(queue === undefined ? {} : { queue }),
      }),
    )
    ctx.out.done(forked, { id: forked, forkedFrom: source, fromStep })
  },
}

export const deleteCommand: Command = {
  path: ["workflows", "delete"],
  summary: "delete a finished workflow and everything it stored (and its children's)",
  args: idArg,
  flags: { "no-children": { type: "boolean", description: "keep its children" } },
  run: async (ctx) => {
    const id = ctx.parsed.args[0]!
    const client = await ctx.client()
    await refusedOnState(() => client.workflows.delete(id, { children: !ctx.parsed.bool("no-children") }))
    ctx.out.done(`Deleted: ${id}`, { ids: [id] })
  },
}

export const pruneCommand: Command = {
  path: ["workflows", "prune"],
  summary: "delete workflows that finished longer ago than --older-than, in bounded batches",
  flags: {
    "older-than": { type: "string", placeholder: "DURATION", description: "e.g. 30d, 12h (required)" },
    status: {
      type: "string",
      multiple: true,
      placeholder: "STATUS",
      description: "which finished statuses (default SUCCESS, ERROR, CANCELLED; DEAD ones are kept)",
    },
    "batch-size": { type: "string", placeholder: "N", description: "rows per delete batch (default 1000)" },
  },
  run: async (ctx) => {
    const olderThan = ctx.parsed.string("older-than")
    if (olderThan === undefined) throw usageError("prune needs --older-than (e.g. 30d)")
    const ms = parseDuration(olderThan)
    if (ms === undefined)
      throw usageError(`--older-than ${JSON.stringify(olderThan)} is not a duration (30d, 12h, 90m)`)
    const batch = ctx.parsed.string("batch-size")
    if (batch !== undefined && !/^\d+$/.test(batch))
      throw usageError(`--batch-size ${JSON.stringify(batch)} is not a whole number`)
    const status = ctx.parsed.strings("status").map((s) => s.toUpperCase())
    const client = await ctx.client()
    const deleted = await client.workflows.prune({
      olderThan: ms,
      ...(status.length ? { status: status as never } : {}),
      ...(batch === undefined ? {} : { batchSize: Number(batch) }),
    })
    ctx.out.done(`Pruned ${deleted} workflows`, { deleted })
  },
}
