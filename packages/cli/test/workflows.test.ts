// Every workflow command of the real binary against a real Postgres, with a worker engine in this process:
// output, exit codes, --json parse-ability, BigInt/Date/Map and a 100 kB output, and bad input.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Durably } from "@durably/core"
import { postgresStore } from "@durably/postgres"
import { defineQueue } from "@durably/scheduler"
import { databaseUrl, dropSchema, freshSchema } from "../../postgres/test/pg.ts"
import { makeCheckout, makeFlaky, sleeper, valuesWorkflow } from "./fixtures.ts"
import { durably as run, ndjson } from "./run.ts"

const url = await databaseUrl()
const schema = freshSchema("cliwf")
const provider = { fixed: false }
const checkout = makeCheckout(provider)
const settings = { healed: false }
const flaky = makeFlaky(settings)
let engine: Durably
const ids = { values: "", failed: "", sleeping: "", queued: "" }

const durably = (args: ReadonlyArray<string>) => run([...args, "--schema", schema], { DATABASE_URL: url })

beforeAll(async () => {
  engine = await Durably.launch({
    store: postgresStore({ url, schema, max: 4 }),
    workflows: [valuesWorkflow, checkout, sleeper, flaky],
    executorId: "cli-test-worker",
    logger: false,
  })
  ids.values = (await engine.start(valuesWorkflow, "first", { id: "values-1" })).id
  await engine.handle(ids.values).result()
  const failed = await engine.start(checkout, { id: "o1" }, { id: "checkout-o1" })
  ids.failed = failed.id
  await failed.outcome()
  ids.sleeping = (await engine.start(sleeper, null, { id: "sleeper-1" })).id
  const client = await Durably.client({ store: postgresStore({ url, schema, max: 2 }), logger: false })
  ids.queued = (
    await client.enqueue(defineQueue("nobody-serves-this", { concurrency: 3 }), "values", "queued", { id: "queued-1" })
  ).id
  await client.close()
})

afterAll(async () => {
  await engine?.shutdown()
  await dropSchema(url, schema)
})

describe("durably workflows", { timeout: 180_000 }, () => {
  it("list: a table by default, NDJSON with --json, filtered by status", async () => {
    const table = await durably(["workflows", "list"])
    expect(table.stderr).toBe("")
    expect(table.code).toBe(0)
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+STATUS\s+QUEUE\s+CREATED\s+UPDATED$/)
    for (const id of Object.values(ids)) expect(table.stdout).toContain(id)
    expect(table.stdout).not.toContain("\u001b[")

    const failed = await durably(["workflows", "list", "--status", "error", "--json", "--output"])
    expect(failed.code).toBe(0)
    const docs = ndjson(failed.stdout) as Array<{ id: string; status: string; error: { message: string } }>
    expect(docs.map((d) => d.id)).toEqual([ids.failed])
    expect(docs[0]!.error.message).toBe("card declined: payment provider unavailable")

    const page = await durably(["workflows", "list", "--limit", "2", "--json"])
    expect(ndjson(page.stdout)).toHaveLength(2)
    const cursor = /^more: --cursor (\S+)$/m.exec(page.stderr)?.[1]
    expect(cursor).toBeDefined()
    const next = await durably(["workflows", "list", "--limit", "2", "--json", "--cursor", cursor!])
    expect(next.code).toBe(0)
    expect(ndjson(next.stdout)).toHaveLength(2)
    const all = await durably(["workflows", "list", "--limit", "1", "--all", "--json"])
    expect(ndjson(all.stdout)).toHaveLength(4)

    const count = await durably(["workflows", "count", "--status", "PENDING,ENQUEUED"])
    expect(count.stdout).toBe("2\n")
  })

  it("get and steps print BigInt, Date, Map and a 100 kB output: cut in tables, whole in --json", async () => {
    const shown = await durably(["workflows", "get", ids.values])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain("big: 1180591620717411303424n")
    expect(shown.stdout).toContain("at: 2026-01-02T03:04:05.000Z")
    expect(shown.stdout).toContain('map: Map(1) { "k" => 1n }')
    expect(shown.stdout.length).toBeLessThan(5_000)
    const doc = JSON.parse((await durably(["workflows", "get", ids.values, "--json"])).stdout) as {
      output: { big: string; at: string; map: unknown; blob: string }
    }
    expect(doc.output.big).toBe("1180591620717411303424")
    expect(doc.output.at).toBe("2026-01-02T03:04:05.000Z")
    expect(doc.output.map).toEqual([["k", "1"]])
    expect(doc.output.blob).toHaveLength(100_000)

    const steps = await durably(["workflows", "steps", ids.failed])
    expect(steps.code).toBe(0)
    expect(steps.stdout).toMatch(/^0\s+reserve\s+step\s+done/m)
    expect(steps.stdout).toMatch(/^1\s+charge\s+step\s+failed.*card declined/m)
    const stepDocs = ndjson((await durably(["workflows", "steps", ids.failed, "--json"])).stdout)
    expect(stepDocs).toHaveLength(2)
  })

  it("unknown ids exit 3, malformed filters and cursors exit 2, each with one line on stderr", async () => {
    const missing = await durably(["workflows", "get", "no-such-workflow"])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(/^durably: .*no-such-workflow.*\n$/)
    expect(missing.stdout).toBe("")
    for (const args of [
      ["workflows", "list", "--status", "BOGUS"],
      ["workflows", "list", "--created-after", "yesterday-ish"],
      ["workflows", "list", "--limit", "ten"],
      ["workflows", "list", "--cursor", "not-a-cursor"],
      ["workflows", "list", "--order", "sideways"],
      ["workflows", "steps"],
    ]) {
      const bad = await durably(args)
      expect({ args, code: bad.code }).toEqual({ args, code: 2 })
      expect(bad.stderr.trim().split("\n")).toHaveLength(1)
      expect(bad.stderr).toMatch(/^durably: /)
      expect(bad.stderr).not.toMatch(/\n\s+at /)
    }
  })

  it("cancel a sleeping workflow; resuming a successful one is refused (exit 4); bulk needs --yes", async () => {
    const cancelled = await durably(["workflows", "cancel", ids.sleeping])
    expect(cancelled.code).toBe(0)
    expect(cancelled.stdout).toBe(`Cancelled: ${ids.sleeping}\n`)
    expect((await engine.handle(ids.sleeping).status()).status).toBe("CANCELLED")

    const refused = await durably(["workflows", "resume", ids.values])
    expect(refused.code).toBe(4)
    expect(refused.stderr).toMatch(/^durably: .+\n$/)

    const bulk = await durably(["workflows", "cancel", "--status", "ENQUEUED"])
    expect(bulk.code).toBe(2)
    expect(bulk.stderr).toBe("durably: 1 workflows match; add --yes to cancel them\n")
    const none = await durably(["workflows", "cancel"])
    expect(none.code).toBe(2)
  })

  it("fork a failed checkout from its charge step once the provider is fixed: the fork succeeds", async () => {
    provider.fixed = true
    const forked = await durably(["workflows", "fork", ids.failed, "--from-step", "charge", "--json"])
    expect(forked.stderr).toBe("")
    expect(forked.code).toBe(0)
    const { id } = JSON.parse(forked.stdout) as { id: string }
    expect(await engine.handle(id).result()).toEqual({ hold: "hold-o1", receipt: "receipt-o1" })
    const bad = await durably(["workflows", "fork", ids.failed, "--from-step", "no-such-step"])
    expect(bad.code).toBe(4)
  })

  it("resumes a failed workflow, which then completes; bulk cancel and resume with --yes", async () => {
    for (const n of [1, 2])
      expect((await (await engine.start(flaky, `f${n}`, { id: `flaky-${n}` })).outcome()).status).toBe("ERROR")
    settings.healed = true
    const resumed = await durably(["workflows", "resume", "flaky-1"])
    expect(resumed.stderr).toBe("")
    expect(resumed.code).toBe(0)
    expect(resumed.stdout).toBe("Resumed: flaky-1\n")
    // The client only marks it PENDING; the worker takes it at its next heartbeat and runs it from "load".
    expect(await engine.handle("flaky-1").result()).toBe("loaded-f1")

    for (const n of [1, 2]) await engine.start(sleeper, null, { id: `sleeper-bulk-${n}` })
    const cancelled = await durably(["workflows", "cancel", "--status", "PENDING", "--name", "sleeper", "--yes"])
    expect(cancelled.stderr).toBe("")
    expect(cancelled.code).toBe(0)
    const lines = cancelled.stdout.trimEnd().split("\n")
    expect(lines[0]).toBe("Cancelled: 2 workflows")
    expect(lines.slice(1).sort()).toEqual(["sleeper-bulk-1", "sleeper-bulk-2"])
    for (const n of [1, 2]) expect((await engine.handle(`sleeper-bulk-${n}`).status()).status).toBe("CANCELLED")

    const bulk = await durably(["workflows", "resume", "--status", "ERROR", "--name", "flaky", "--yes", "--json"])
    expect(bulk.stderr).toBe("")
    expect(bulk.code).toBe(0)
    expect(JSON.parse(bulk.stdout)).toEqual({ ids: ["flaky-2"] })
    expect(await engine.handle("flaky-2").result()).toBe("loaded-f2")
  })

  it("queues and executors", async () => {
    const queues = await durably(["queues"])
    expect(queues.code).toBe(0)
    // Limits as text for people, not the stored settings object.
    expect(queues.stdout).toMatch(/^nobody-serves-this\s+1\s+0\s+0\s+concurrency 3$/m)
    const executors = await durably(["executors", "--json"])
    expect(executors.code).toBe(0)
    const doc = JSON.parse(executors.stdout) as { executors: Array<{ executorId: string }> }
    expect(doc.executors.map((e) => e.executorId)).toContain("cli-test-worker")
  })

  it("delete and prune", async () => {
    const deleted = await durably(["workflows", "delete", ids.values])
    expect(deleted.code).toBe(0)
    expect((await durably(["workflows", "get", ids.values])).code).toBe(3)
    const noAge = await durably(["workflows", "prune"])
    expect(noAge.code).toBe(2)
    const pruned = await durably(["workflows", "prune", "--older-than", "0s", "--json"])
    expect(pruned.code).toBe(0)
    expect((JSON.parse(pruned.stdout) as { deleted: number }).deleted).toBeGreaterThan(0)
  })
})
