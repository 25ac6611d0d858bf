// durably schedules against Postgres, with a worker engine in this process that serves the schedule's queue.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineWorkflow, Durably, type ScheduledRun } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { defineQueue, defineSchedule } from "@durably/scheduler"
import { databaseUrl, dropSchema, freshSchema } from "../../postgres/test/pg.ts"
import { durably as run, ndjson } from "./run.ts"

const url = await databaseUrl()
const schema = freshSchema("clisched")
const tick = defineWorkflow("tick", async (_ctx, r: ScheduledRun) => r.scheduledAt)
const ticks = defineQueue("ticks")
const hourly = defineSchedule("hourly-report", { cron: "0 * * * *", workflow: tick, queue: ticks })
let engine: Durably

const durably = (args: ReadonlyArray<string>) => run([...args, "--schema", schema], { DATABASE_URL: url })

beforeAll(async () => {
  engine = await Durably.launch({
    store: postgresStore({ url, schema, max: 4 }),
    workflows: [tick],
    queues: [ticks],
    schedules: [hourly],
    logger: false,
  })
})
afterAll(async () => {
  await engine?.shutdown()
  await dropSchema(url, schema)
})

describe("durably schedules", { timeout: 180_000 }, () => {
  it("lists, pauses and resumes a schedule", async () => {
    const list = await durably(["schedules", "list"])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/^hourly-report\s+tick\s+0 \* \* \* \*\s+UTC\s+\d{4}-/m)
    const paused = await durably(["schedules", "pause", "hourly-report", "--json"])
    expect(paused.code).toBe(0)
    expect(JSON.parse(paused.stdout)).toMatchObject({ name: "hourly-report", paused: true })
    expect((await durably(["schedules", "get", "hourly-report"])).stdout).toMatch(/^paused\s+yes$/m)
    const resumed = await durably(["schedules", "resume", "hourly-report"])
    expect(resumed.stdout).toMatch(/^Resumed: hourly-report \(next tick \d{4}-.*\)\n$/)
    const docs = ndjson((await durably(["schedules", "list", "--json"])).stdout) as Array<{ paused: boolean }>
    expect(docs).toMatchObject([{ name: "hourly-report", paused: false }])
  })

  it("triggers a run now and backfills past ticks, each run by the worker", async () => {
    const triggered = await durably(["schedules", "trigger", "hourly-report", "--json"])
    expect(triggered.stderr).toBe("")
    expect(triggered.code).toBe(0)
    const { id } = JSON.parse(triggered.stdout) as { id: string }
    await engine.handle(id).result()

    const backfill = await durably(["schedules", "backfill", "hourly-report", "--from", "3h", "--json"])
    expect(backfill.code).toBe(0)
    const { ids } = JSON.parse(backfill.stdout) as { ids: string[] }
    expect(ids).toHaveLength(3)
    const instants = await Promise.all(ids.map((i) => engine.handle<Date>(i).result()))
    for (const at of instants) expect(at.getUTCMinutes()).toBe(0)
    // Again: the same ticks are attached to, not run twice.
    const again = JSON.parse(
      (await durably(["schedules", "backfill", "hourly-report", "--from", "3h", "--json"])).stdout,
    ) as {
      ids: string[]
    }
    expect(again.ids).toEqual(ids)
  })

  it("unknown schedules exit 3, a missing --from exits 2", async () => {
    const missing = await durably(["schedules", "pause", "no-such-schedule"])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(/^durably: .*no-such-schedule.*\n$/)
    expect((await durably(["schedules", "get", "no-such-schedule"])).code).toBe(3)
    expect((await durably(["schedules", "backfill", "hourly-report"])).code).toBe(2)
    expect((await durably(["schedules", "backfill", "hourly-report", "--from", "whenever"])).code).toBe(2)
  })
})
