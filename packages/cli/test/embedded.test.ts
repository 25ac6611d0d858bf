// The real binary on an embedded directory, as on Postgres: a worker leaves workflows of every state there and
// stops (the directory takes one process at a time, and a held one is refused with exit code 5); then every
// command runs against it, and a worker launched again finishes what the CLI resumed and forked.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { defineWorkflow, Durably, type ScheduledRun } from "@durably/core"
import { embeddedStore } from "@durably/postgres/embedded"
import { defineQueue, defineSchedule } from "@durably/scheduler"
import { makeCheckout, makeFlaky, sleeper, valuesWorkflow } from "./fixtures.ts"
import { durably as run, durablyServing, ndjson } from "./run.ts"

const dir = mkdtempSync(join(tmpdir(), "durably-cli-embedded-"))
const provider = { fixed: false }
const settings = { healed: false }
const checkout = makeCheckout(provider)
const flaky = makeFlaky(settings)
const tick = defineWorkflow("tick", async (_ctx, r: ScheduledRun) => r.scheduledAt)
const ticks = defineQueue("ticks")
const launch = () =>
  Durably.launch({
    store: embeddedStore({ dir }),
    workflows: [valuesWorkflow, checkout, sleeper, flaky, tick],
    queues: [ticks],
    schedules: [defineSchedule("hourly-report", { cron: "0 * * * *", workflow: tick, queue: ticks })],
    appVersion: "v1",
    executorId: "embedded-worker",
    logger: false,
  })

let worker: Durably | undefined
afterAll(async () => {
  await worker?.shutdown()
  rmSync(dir, { recursive: true, force: true })
})

const durably = (args: ReadonlyArray<string>) => run([...args, "--dir", dir])

// One story in steps, each on the directory as the previous one left it.
describe("durably --dir", { timeout: 180_000 }, () => {
  it("refuses a directory a live worker holds (exit 5), then lists and shows what the worker stored", async () => {
    const engine = (worker = await launch())
    await engine.run(valuesWorkflow, "embedded", { id: "values-embedded" })
    await engine.start(checkout, { id: "o1" }, { id: "checkout-o1" }).then((h) => h.outcome())
    await engine.start(flaky, "f1", { id: "flaky-1" }).then((h) => h.outcome())
    await engine.start(sleeper, null, { id: "sleeper-1" })
    // A queue no worker serves: it stays ENQUEUED.
    await engine.enqueue(defineQueue("parked", { concurrency: 2 }), valuesWorkflow, "queued", { id: "queued-1" })
    const busy = await durably(["workflows", "list"])
    expect(busy.code).toBe(5)
    expect(busy.stderr).toMatch(/^durably: .*lock/i)
    await engine.shutdown()
    worker = undefined

    const list = await durably(["workflows", "list", "--json"])
    expect(list.stderr).toBe("")
    expect(list.code).toBe(0)
    expect(
      (ndjson(list.stdout) as Array<{ id: string; status: string }>).map((w) => `${w.id} ${w.status}`).sort(),
    ).toEqual([
      "checkout-o1 ERROR",
      "flaky-1 ERROR",
      "queued-1 ENQUEUED",
      "sleeper-1 PENDING",
      "values-embedded SUCCESS",
    ])
    const get = await durably(["workflows", "get", "values-embedded", "--json"])
    const doc = JSON.parse(get.stdout) as { output: { big: string; blob: string } }
    expect(doc.output.big).toBe("1180591620717411303424")
    expect(doc.output.blob).toHaveLength(100_000)
  })

  it("steps, queues, executors (with the stranded version) and schedules", async () => {
    const steps = await durably(["workflows", "steps", "checkout-o1"])
    expect(steps.code).toBe(0)
    expect(steps.stdout).toMatch(/^0\s+reserve\s+step\s+done/m)
    expect(steps.stdout).toMatch(/^1\s+charge\s+step\s+failed.*card declined/m)

    const queues = await durably(["queues"])
    expect(queues.code).toBe(0)
    expect(queues.stdout).toMatch(/^parked\s+1\s+0\s+0\s+concurrency 2$/m)

    // The worker stopped, so the sleeping workflow of its version is stranded.
    const executors = await durably(["executors", "--json"])
    expect(executors.code).toBe(0)
    const fleet = JSON.parse(executors.stdout) as {
      executors: Array<{ executorId: string; alive: boolean }>
      stranded: unknown[]
    }
    expect(fleet.executors.filter((e) => e.alive)).toEqual([])
    expect(fleet.stranded).toEqual([{ appVersion: "v1", count: 1 }])

    const schedules = await durably(["schedules", "list"])
    expect(schedules.code).toBe(0)
    expect(schedules.stdout).toMatch(/^hourly-report\s+tick\s+0 \* \* \* \*\s+UTC\s+\d{4}-/m)
  })

  it("cancel, resume and fork, refused where the state does not allow them (exit 4)", async () => {
    const cancelled = await durably(["workflows", "cancel", "sleeper-1"])
    expect(cancelled.code).toBe(0)
    expect(cancelled.stdout).toBe("Cancelled: sleeper-1\n")
    const refused = await durably(["workflows", "resume", "values-embedded"])
    expect(refused.code).toBe(4)
    const resumed = await durably(["workflows", "resume", "flaky-1"])
    expect(resumed.stderr).toBe("")
    expect(resumed.code).toBe(0)
    expect(resumed.stdout).toBe("Resumed: flaky-1\n")
    const forked = await durably(["workflows", "fork", "checkout-o1", "--from-step", "charge", "--id", "fork-1"])
    expect(forked.stderr).toBe("")
    expect(forked.code).toBe(0)
    expect(forked.stdout).toBe("fork-1\n")
    expect((await durably(["workflows", "fork", "checkout-o1", "--from-step", "no-such-step"])).code).toBe(4)
  })

  it("dashboard --dir serves the API on the directory until SIGTERM", async () => {
    const { child, match, exited } = await durablyServing(
      ["dashboard", "--dir", dir, "--port", "0"],
      {},
      /at (http:\/\/127\.0\.0\.1:\d+\/)/,
    )
    try {
      expect(match.input).toContain(`Dashboard for embedded store in ${dir} (schema durably)`)
      const page = (await (await fetch(new URL("api/workflows?status=PENDING", match[1]))).json()) as {
        workflows: Array<{ id: string }>
        counts: Record<string, number>
      }
      expect(page.workflows.map((w) => w.id).sort()).toEqual(["flaky-1", "fork-1"])
      expect(page.counts).toMatchObject({ SUCCESS: 1, ERROR: 1, CANCELLED: 1, ENQUEUED: 1, PENDING: 2 })
    } finally {
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
  })

  it("delete and prune", async () => {
    const deleted = await durably(["workflows", "delete", "values-embedded"])
    expect(deleted.code).toBe(0)
    expect(deleted.stdout).toBe("Deleted: values-embedded\n")
    expect((await durably(["workflows", "get", "values-embedded"])).code).toBe(3)
    expect((await durably(["workflows", "delete", "flaky-1"])).code).toBe(4)
    const pruned = await durably(["workflows", "prune", "--older-than", "0s", "--json"])
    expect(pruned.code).toBe(0)
    // The failed checkout and the cancelled sleeper; the fork keeps what it copied from its origin.
    expect(JSON.parse(pruned.stdout)).toEqual({ deleted: 2 })
  })

  it("a worker launched again runs what the CLI resumed and forked to the end", async () => {
    settings.healed = true
    provider.fixed = true
    const again = (worker = await launch())
    expect(await again.handle("flaky-1").result()).toBe("loaded-f1")
    expect(await again.handle("fork-1").result()).toEqual({ hold: "hold-o1", receipt: "receipt-o1" })
  })
})
