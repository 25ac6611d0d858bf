/** Schedules managed from a client (no workflow code): a worker fires what the client created. */
import { describe, expect, it } from "vitest"
import { defineWorkflow, Durably, InvalidArgument, memoryStore, type ScheduledRun } from "@durably/core"
import { defineQueue } from "../src/index.ts"

const job = defineWorkflow("job", async (ctx, run: ScheduledRun) =>
  ctx.step("run", () => run.scheduledAt.toISOString()),
)

const until = async (check: () => Promise<boolean>, what: string) => {
  const end = Date.now() + 15_000
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe("schedules from a client", () => {
  it("a client creates, lists and pauses a schedule by workflow name; the worker that has the code fires it", async () => {
    const store = memoryStore()
    const ticks = defineQueue("ticks")
    const worker = await Durably.launch({ store, workflows: [job], queues: [ticks], logger: false, executorId: "w" })
    const client = await Durably.client({ store, logger: false })
    try {
      await client.schedules.create("every-second", { cron: "* * * * * *", workflow: "job" })
      expect((await client.schedules.list()).map((s) => [s.name, s.workflow, s.origin])).toEqual([
        ["every-second", "job", "runtime"],
      ])
      const runs = async () =>
        (await client.workflows.list({ name: "job" })).workflows.filter((w) =>
          w.id.startsWith("@schedule:every-second:"),
        )
      await until(async () => (await runs()).length >= 2, "two ticks")
      await client.schedules.pause("every-second")
      expect((await client.schedules.get("every-second"))?.paused).toBe(true)

      // A client cannot start a run itself, so trigger refuses unless the schedule enqueues its ticks.
      await expect(client.schedules.trigger("every-second")).rejects.toBeInstanceOf(InvalidArgument)
      await client.schedules.update("every-second", { queue: "ticks" })
      const manual = await client.schedules.trigger("every-second")
      expect(typeof (await manual.result())).toBe("string")
      const back = await client.schedules.backfill(
        "every-second",
        new Date("2026-01-01T00:00:00Z"),
        new Date("2026-01-01T00:00:02Z"),
      )
      expect(await Promise.all(back.map((h) => h.result()))).toEqual([
        "2026-01-01T00:00:00.000Z",
        "2026-01-01T00:00:01.000Z",
        "2026-01-01T00:00:02.000Z",
      ])
    } finally {
      await client.close()
      await worker.shutdown()
    }
  })
})
