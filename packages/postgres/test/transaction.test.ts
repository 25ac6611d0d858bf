import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineWorkflow, Durably, memoryStore, type Store, type WorkflowDefinition } from "@durably/core"
import { testEngine } from "@durably/core/testing"
import { postgresStore, transaction } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const schema = freshSchema("tx")
const sql = postgres(url, { max: 2, onnotice: () => undefined })
const table = `"${schema}_ledger"`
const stores: Store[] = []
const store = () => {
  const s = postgresStore({ url, schema, max: 4, pollInterval: 100 })
  stores.push(s)
  return s
}
const launch = (workflows: WorkflowDefinition<any, any, any, never>[], executorId: string, s = store()) =>
  Durably.launch({ store: s, workflows, executorId, logger: false, heartbeat: false })

beforeAll(async () => {
  await sql.unsafe(`CREATE TABLE ${table} (id text PRIMARY KEY, amount int NOT NULL)`)
  await sql.unsafe(`CREATE TABLE ${table.slice(0, -1)}_acct" (id int PRIMARY KEY, balance int NOT NULL)`)
  await sql.unsafe(`INSERT INTO ${table.slice(0, -1)}_acct" VALUES (1, 0), (2, 0)`)
})
afterAll(async () => {
  await sql.unsafe(`DROP TABLE IF EXISTS ${table}, ${table.slice(0, -1)}_acct"`)
  await sql.end()
  await dropSchema(url, schema)
})
const rows = async (prefix: string) =>
  sql.unsafe(`SELECT id, amount FROM ${table} WHERE id LIKE $1 ORDER BY id`, [`${prefix}%`])

describe("transaction(ctx, name, fn)", () => {
  it("commits the user's writes with the checkpoint; replay returns the record without touching the table", async () => {
    let bodies = 0
    let waits = 0
    let gate!: () => void
    const blocked = new Promise<void>((r) => (gate = r))
    const wf = defineWorkflow("pay", async (ctx, id: string) => {
      const inserted = await transaction(ctx, "insert", async (tx) => {
        bodies++
        const [r] = await tx.query<{ id: string }>(`INSERT INTO ${table} VALUES ($1, $2) RETURNING id`, [id, 5])
        return r!.id
      })
      await ctx.step("wait", async () => {
        if (++waits === 1) await blocked
      })
      return inserted
    })
    const first = await launch([wf], "tx-a")
    const h = await first.start(wf, "pay-1")
    await expect.poll(async () => (await rows("pay-1")).length).toBe(1)
    // The process "dies" (it will never write again); a new one with the same executor id takes over.
    const second = await launch([wf], "tx-a")
    expect(await second.handle(h.id).result()).toBe("pay-1")
    gate()
    expect(bodies).toBe(1)
    expect(await rows("pay-1")).toEqual([{ id: "pay-1", amount: 5 }])
    await second.shutdown()
    await first.shutdown().catch(() => undefined)
  })

  it("a failing body rolls back and the failure is recorded like a step's", async () => {
    const wf = defineWorkflow("fail", async (ctx) =>
      transaction(ctx, "half", async (tx) => {
        await tx.query(`INSERT INTO ${table} VALUES ('half-1', 1)`)
        throw new RangeError("changed my mind")
      }).catch((e: unknown) => (e instanceof RangeError ? `caught ${e.message}` : "wrong error")),
    )
    const d = await launch([wf], "tx-b")
    expect(await d.run(wf, undefined)).toBe("caught changed my mind")
    expect(await rows("half")).toEqual([])
    await d.shutdown()
  })

  it("values in the tagged template are parameters", async () => {
    const wf = defineWorkflow("tagged", async (ctx, id: string) =>
      transaction(ctx, "ins", async (tx) => {
        // The table name is dynamic here, so build the template by hand; every ${} is a parameter.
        const parts = [`INSERT INTO ${table} VALUES (`, ", ", ") RETURNING *"]
        const [r] = await tx<{ id: string; amount: number }>(Object.assign(parts, { raw: parts }), id, 7)
        return r
      }),
    )
    const d = await launch([wf], "tx-c")
    expect(await d.run(wf, "tag'); DROP TABLE x; --")).toEqual({ id: "tag'); DROP TABLE x; --", amount: 7 })
    await d.shutdown()
  })

  it("a deadlock is retried until both transactions commit", async () => {
    const acct = `${table.slice(0, -1)}_acct"`
    const wf = defineWorkflow("transfer", async (ctx, [from, to]: [number, number]) =>
      transaction(ctx, "move", async (tx) => {
        await tx.query(`UPDATE ${acct} SET balance = balance - 1 WHERE id = $1`, [from])
        await new Promise((r) => setTimeout(r, 100))
        await tx.query(`UPDATE ${acct} SET balance = balance + 1 WHERE id = $1`, [to])
        return "moved"
      }),
    )
    const d = await launch([wf], "tx-d")
    const results = await Promise.all([d.run(wf, [1, 2]), d.run(wf, [2, 1])])
    expect(results).toEqual(["moved", "moved"])
    const balances = await sql.unsafe(`SELECT id, balance FROM ${acct} ORDER BY id`)
    expect(balances.map((b) => b["balance"] as number)).toEqual([0, 0])
    await d.shutdown()
  })

  it("a fenced execution's transaction rolls back: the zombie's write never lands", async () => {
    let release!: () => void
    const held = new Promise<void>((r) => (release = r))
    let calls = 0
    const wf = defineWorkflow("zombie-tx", async (ctx, id: string) =>
      transaction(ctx, "write", async (tx) => {
        calls++
        await tx.query(`INSERT INTO ${table} VALUES ($1, $2)`, [id, calls])
        if (calls === 1) await held
        return calls
      }),
    )
    const zombie = await launch([wf], "tx-e")
    const h = await zombie.start(wf, "zombie-1")
    await expect.poll(() => calls).toBe(1)
    const taker = await launch([wf], "tx-e")
    // The zombie holds its row lock until it finishes, so the taker's insert waits for the zombie's rollback.
    setTimeout(release, 200)
    expect(await taker.handle(h.id).result()).toBe(2)
    expect(await rows("zombie-1")).toEqual([{ id: "zombie-1", amount: 2 }])
    await taker.shutdown()
    await zombie.shutdown().catch(() => undefined)
  })

  it("needs a SQL store, and ctx cannot be used inside it", async () => {
    const onMemory = defineWorkflow("mem-tx", async (ctx) => transaction(ctx, "t", async () => 1))
    const m = await Durably.launch({ store: memoryStore(), workflows: [onMemory], logger: false })
    const o = await (await m.start(onMemory, undefined)).outcome()
    expect(o.status === "ERROR" && (o.error as Error).message).toMatch(/needs a SQL store .* memory store/)
    await m.shutdown()
    const nested = defineWorkflow("nested-tx", async (ctx) => transaction(ctx, "t", async () => ctx.now()))
    const d = await launch([nested], "tx-f")
    const o2 = await (await d.start(nested, undefined)).outcome()
    expect(o2.status === "ERROR" && (o2.error as Error).message).toMatch(/inside the body of step "t"/)
    await d.shutdown()
  })

  it("verifyReplay replays a history with transactions, running none of their bodies", async () => {
    let bodies = 0
    const wf = defineWorkflow("tx-verified", async (ctx, id: string) => {
      const a = await transaction(ctx, "insert", async (tx) => {
        bodies++
        await tx.query(`INSERT INTO ${table} VALUES ($1, 1)`, [id])
        return 1
      })
      return a + (await ctx.step("after", () => 1))
    })
    const d = await launch([wf], "tx-v")
    expect(await d.run(wf, "verified-1", { id: "verified-1" })).toBe(2)
    await d.shutdown()
    expect(bodies).toBe(1)
    // The kit replays on a scratch memory store: the recorded transaction must replay there too.
    const t = await testEngine({ store: store(), workflows: [wf], recover: false })
    expect(await t.verifyReplay("verified-1")).toEqual({ ok: true })
    await t.shutdown()
    expect(bodies).toBe(1)
    expect(await rows("verified-")).toEqual([{ id: "verified-1", amount: 1 }])
  })
})
