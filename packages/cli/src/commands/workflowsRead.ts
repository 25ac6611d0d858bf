/** `durably workflows list | count | get | steps`: find workflows and look inside one. */
import type { StepRecord, WorkflowSummary } from "@durably/core"
import type { Command } from "../command.ts"
import type { Style } from "../output/style.ts"
import type { Column } from "../output/table.ts"
import { filterFlags, filterOf, listOptionsOf, pageFlags } from "./filterFlags.ts"

const summaryColumns = (extra: { input: boolean; output: boolean }, style: Style): Column<WorkflowSummary>[] => [
  { header: "ID", get: (w) => w.id, max: 40 },
  { header: "NAME", get: (w) => w.name, max: 30 },
  { header: "STATUS", get: (w) => w.status, paint: (t) => style.status(t) },
  { header: "QUEUE", get: (w) => w.queue },
  { header: "CREATED", get: (w) => w.createdAt },
  { header: "UPDATED", get: (w) => w.updatedAt },
  ...(extra.input ? [{ header: "INPUT", get: (w: WorkflowSummary) => w.input, max: 40 }] : []),
  ...(extra.output
    ? [{ header: "OUTPUT / ERROR", get: (w: WorkflowSummary) => (w.status === "ERROR" ? w.error : w.output), max: 50 }]
    : []),
]

export const listCommand: Command = {
  path: ["workflows", "list"],
  summary: "list workflows, newest first, with filters",
  details:
    "Prints one page (--limit, default 50); when there are more, the next page's --cursor is printed on stderr.\n" +
    "--all follows the cursors to the end. With --json, one workflow per line (NDJSON), every value whole.",
  flags: {
    ...filterFlags,
    ...pageFlags,
    all: { type: "boolean", description: "every page, not just the first" },
    input: { type: "boolean", description: "include each workflow's input" },
    output: { type: "boolean", description: "include each finished workflow's output or error" },
  },
  run: async (ctx) => {
    const options = listOptionsOf(ctx.parsed)
    const client = await ctx.client()
    const extra = { input: ctx.parsed.bool("input"), output: ctx.parsed.bool("output") }
    const columns = summaryColumns(extra, ctx.out.style)
    let cursor = options.cursor
    for (;;) {
      const page = await client.workflows.list({
        ...options,
        ...(cursor ? { cursor } : {}),
        includeInput: extra.input,
        includeOutput: extra.output,
      })
      ctx.out.list(page.workflows, columns)
      cursor = page.nextCursor
      if (!cursor) return
      if (!ctx.parsed.bool("all")) {
        ctx.io.stderr.write(`more: --cursor ${cursor}\n`)
        return
      }
    }
  },
}

export const countCommand: Command = {
  path: ["workflows", "count"],
  summary: "count the workflows that match the filters",
  flags: filterFlags,
  run: async (ctx) => {
    const filter = filterOf(ctx.parsed)
    const count = await (await ctx.client()).workflows.count(filter)
    ctx.out.done(String(count), { count })
  },
}

const idArg = [{ name: "id", description: "the workflow's id" }]

export const getCommand: Command = {
  path: ["workflows", "get"],
  summary: "everything known of one workflow: status, input, output or error, queue, times",
  args: idArg,
  run: async (ctx) => {
    const w = await (await ctx.client()).workflows.get(ctx.parsed.args[0]!)
    ctx.out.record(w, [
      ["id", w.id],
      ["name", w.name],
      ["status", ctx.out.style.status(w.status) + (w.cancelReason ? ` (${w.cancelReason})` : "")],
      ["app version", w.appVersion],
      ["executor", w.executorId],
      ["queue", w.queue],
      ["partition", w.partitionKey],
      ["priority", w.priority],
      ["deduplication id", w.deduplicationId],
      ["parent", w.parentId === undefined ? undefined : `${w.parentId} (step ${w.parentStep})`],
      ["forked from", w.forkedFrom],
      ["created", w.createdAt],
      ["started", w.startedAt],
      ["updated", w.updatedAt],
      ["completed", w.completedAt],
      ["delay until", w.delayUntil],
      ["deadline", w.deadline],
      ["recoveries", w.recoveryAttempts],
      ["input", w.input],
      ["output", w.status === "SUCCESS" ? w.output : undefined],
      ["error", w.error],
    ])
  },
}

const duration = (s: StepRecord) =>
  s.completedAt ? `${Math.max(0, s.completedAt.getTime() - s.startedAt.getTime())} ms` : undefined

export const stepsCommand: Command = {
  path: ["workflows", "steps"],
  summary: "a workflow's operations in order: steps, sleeps, messages, events, streams, children",
  args: idArg,
  run: async (ctx) => {
    const steps = await (await ctx.client()).workflows.steps(ctx.parsed.args[0]!)
    ctx.out.list(steps, [
      { header: "STEP", get: (s) => s.stepId },
      { header: "NAME", get: (s) => s.name, max: 30 },
      { header: "KIND", get: (s) => s.kind },
      { header: "STATE", get: (s) => (s.state === "done" && s.error !== undefined ? "failed" : s.state) },
      { header: "ATTEMPTS", get: (s) => s.attempts },
      { header: "STARTED", get: (s) => s.startedAt },
      { header: "TOOK", get: duration },
      { header: "WAKE AT", get: (s) => s.wakeAt },
      { header: "CHILD", get: (s) => s.childId },
      { header: "RESULT", get: (s) => (s.error !== undefined ? s.error : s.output), max: 50 },
    ])
  },
}

export const strandedCommand: Command = {
  path: ["workflows", "stranded"],
  summary: "app versions with PENDING workflows that no live executor runs",
  details:
    "List them with: durably workflows list --status PENDING --app-version V; move them with resume --to-version.",
  run: async (ctx) => {
    const stranded = await (await ctx.client()).workflows.stranded()
    ctx.out.list(stranded, [
      { header: "APP VERSION", get: (s) => s.appVersion },
      { header: "PENDING", get: (s) => s.count },
    ])
  },
}
