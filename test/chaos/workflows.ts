/**
 * The soak's workflows, the same code in every worker and in the driver (which only enqueues them). Every
 * step body writes its own ledger row over a connection Durably knows nothing of (support/ledger.ts): the
 * row is the evidence the checker reads, so it never trusts the library's own bookkeeping alone.
 */
import { defineWorkflow, type WorkflowContext } from "@durably/core"
import { transaction, type SqlTransaction } from "@durably/postgres"
import { defineSchedule, type ScheduledRun } from "@durably/scheduler"
import type { Ledger } from "./ledger.ts"
import { limitedQueues } from "./limits.ts"

/** A step's retry policy: long enough to outlast a Postgres restart or pause (a body's ledger write fails then). */
const patient = { retry: { maxAttempts: 40, initialDelay: 50, backoff: 2, maxDelay: 1000 } } as const

export interface StepsInput {
  readonly steps: number
  readonly bodyMs: number
  /** This step's first attempt fails on purpose (after writing its ledger row), so the retry runs it again. */
  readonly failFirst?: number
  /** Sleep this long between the first and second step (durable). */
  readonly sleepMs?: number
}

export interface MessagesInput {
  /** How many messages the receiver takes: from the driver and from a sender workflow. */
  readonly expect: number
}

export interface Received {
  readonly from: string
  readonly i: number
}

export interface PublishInput {
  readonly values: number
}

export interface ParentInput {
  readonly bodyMs: number
}

export interface DebouncedInput {
  readonly key: string
  /** Which call of the burst gave it. */
  readonly call: number
}

export interface TaskInput {
  readonly partition?: string
  readonly bodyMs: number
}

/**
 * A tick every second, started by whichever worker fires it; ticks missed while the database was down are run
 * when it is back (catchUp "all"). Named by workflow, so the driver (which fires no ticks) needs no code.
 */
export const tickSchedule = defineSchedule("chaos-ticks", {
  cron: "* * * * * *",
  workflow: "chaos-tick",
  catchUp: "all",
})

export const STREAM = "values"
export const TOPIC = "m"

/** The workflows, given what their bodies write with. The driver passes a ledger it never uses. */
export const chaosWorkflows = (ledger: Ledger) => {
  /** One step: its body records a row when it starts and stamps it when it ends; the checkpoint keeps the row id. */
  const ledgerStep = (ctx: WorkflowContext, name: string, bodyMs: number, failFirst = false) =>
    ctx.step(
      name,
      async ({ attempt }) => {
        const row = await ledger.begin(ctx.workflowId, name, attempt)
        await new Promise((r) => setTimeout(r, bodyMs))
        if (failFirst && attempt === 1) {
          await ledger.end(row, "threw")
          throw new Error(`${name}: the first attempt fails on purpose`)
        }
        await ledger.end(row, "ok")
        return { row }
      },
      patient,
    )

  const steps = defineWorkflow("chaos-steps", async (ctx, input: StepsInput) => {
    const rows: number[] = []
    for (let i = 0; i < input.steps; i++) {
      rows.push((await ledgerStep(ctx, `s${i}`, input.bodyMs, input.failFirst === i)).row)
      if (i === 0 && input.sleepMs !== undefined) await ctx.sleep(input.sleepMs)
    }
    return rows
  })

  const tx = defineWorkflow("chaos-tx", async (ctx, input: { readonly steps: number }) => {
    for (let i = 0; i < input.steps; i++)
      // The row commits with the checkpoint, or not at all: exactly one per step whatever happens.
      await transaction(ctx, `t${i}`, (sql: SqlTransaction) =>
        sql.query(`INSERT INTO ${ledger.txTable} (workflow_id, step, pid) VALUES ($1, $2, $3)`, [
          ctx.workflowId,
          `t${i}`,
          process.pid,
        ]),
      )
    return input.steps
  })

  const sender = defineWorkflow("chaos-sender", async (ctx, input: { readonly to: string; readonly count: number }) => {
    for (let i = 0; i < input.count; i++)
      await ctx.send(input.to, TOPIC, { from: ctx.workflowId, i } satisfies Received)
    return input.count
  })

  const receiver = defineWorkflow("chaos-receiver", async (ctx, input: MessagesInput) => {
    // A recv that must time out: nobody sends on this topic.
    const nothing = await ctx.recv("silence", { timeout: "300 millis" })
    const got: Received[] = []
    for (let i = 0; i < input.expect; i++) {
      const m = await ctx.recv<Received>(TOPIC, { timeout: "5 minutes" })
      if (m === undefined) throw new Error(`message ${i} of ${input.expect} never came`)
      got.push(m)
      await ledgerStep(ctx, `after-${i}`, 5)
    }
    return { got, timedOut: nothing === undefined }
  })

  const publisher = defineWorkflow("chaos-publisher", async (ctx, input: PublishInput) => {
    for (let i = 0; i < input.values; i++) {
      if (i % 2 === 0) await ctx.writeStream(STREAM, i)
      // Inside a step body: published with the step's result, so an interrupted attempt publishes nothing.
      else
        await ctx.step(
          `w${i}`,
          async () => {
            await ctx.writeStream(STREAM, i)
            await new Promise((r) => setTimeout(r, 20))
            return i
          },
          patient,
        )
      await ctx.setEvent("stage", i)
    }
    await ctx.closeStream(STREAM)
    return input.values
  })

  const child = defineWorkflow(
    "chaos-child",
    async (ctx, input: ParentInput) => (await ledgerStep(ctx, "c0", input.bodyMs)).row,
  )

  const parent = defineWorkflow("chaos-parent", async (ctx, input: ParentInput) => {
    const a = await ctx.run(child, input)
    const h = await ctx.start(child, input)
    const q = await ctx.enqueue(limitedQueues.open, child, input)
    return [a, await h.result(), await q.result()]
  })

  const idle = defineWorkflow("chaos-idle", async (ctx) => ctx.recv("never"))

  /** Waits for a message that never comes, with children that wait too: only a cancellation ends it. */
  const waiter = defineWorkflow("chaos-waiter", async (ctx, input: ParentInput) => {
    await ledgerStep(ctx, "w0", input.bodyMs)
    await ctx.start(idle, undefined)
    await ctx.enqueue(limitedQueues.open, idle, undefined)
    await ctx.recv("never")
    return "impossible"
  })

  /** A queue task: two steps; its queue's limits are checked from the rows' times. */
  const task = defineWorkflow("chaos-task", async (ctx, input: TaskInput) => [
    (await ledgerStep(ctx, "q0", input.bodyMs)).row,
    (await ledgerStep(ctx, "q1", input.bodyMs)).row,
  ])

  /**
   * Resumed after a cancellation or a timeout: a step, then a wait for "go" (sent only once it was resumed), then
   * another step. It succeeds only through the resume; the steps before the cancellation do not run again.
   */
  const resumable = defineWorkflow("chaos-resumable", async (ctx, input: ParentInput) => {
    const r0 = (await ledgerStep(ctx, "r0", input.bodyMs)).row
    const go = await ctx.recv<string>("go", { timeout: "10 minutes" })
    const r1 = (await ledgerStep(ctx, "r1", input.bodyMs)).row
    return { rows: [r0, r1], go }
  })

  /** Started by durably.debounce (on the workers' `@debounce` dispatch): its input is the burst's last call. */
  const debounced = defineWorkflow("chaos-debounced", async (ctx, input: DebouncedInput) => {
    await ledgerStep(ctx, "d0", 5)
    return input
  })

  /** A schedule's tick: one step, and its instant as its result (each instant must run once, none missed). */
  const tick = defineWorkflow("chaos-tick", async (ctx, run: ScheduledRun) => {
    await ledgerStep(ctx, "k0", 5)
    return run.scheduledAt.getTime()
  })

  return { steps, tx, sender, receiver, publisher, child, parent, idle, waiter, task, resumable, debounced, tick }
}

export type ChaosWorkflows = ReturnType<typeof chaosWorkflows>
