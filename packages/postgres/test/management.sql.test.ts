/**
 * What is particular to the management plane on Postgres: one pruner at a time across processes (an
 * advisory lock), listings served by the indexes of sql/0004 (the plans), and delete and prune leaving no
 * row behind, counted in the tables themselves (on Postgres and on PGlite) rather than through the store.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import postgres from "postgres"
import { defineWorkflow, Durably, type Store } from "@durably/core"
import { embeddedStore } from "../src/embedded.ts"
import { postgresStore } from "../src/index.ts"
import { sqlStoreInternals, type SqlStoreInternals } from "../src/sqlStore.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { run, storesOn } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("management")
const stores = storesOn(url, schema)
const sql = postgres(url, { max: 2, onnotice: () => undefined })
afterAll(async () => {
  await stores.closeAll()
  await sql.end()
  await dropSchema(url, schema)
})

describe("management on Postgres", () => {
  it("an exclusive prune stands aside while another process prunes, and runs once it is done", async () => {
    const store = stores.store()
    await run(store.management.count({}))
    const prune = () =>
      run(store.management.prune({ before: Date.now(), status: ["SUCCESS"], limit: 10, exclusive: true }))
    let release!: () => void
    let locked!: () => void
    const held = new Promise<void>((r) => (locked = r))
    const other = sql.begin(async (tx) => {
      await tx`SELECT pg_advisory_xact_lock(hashtext(${`${schema}.prune`}))`
      locked()
      await new Promise<void>((r) => (release = r))
    })
    await held
    expect(await prune()).toBeUndefined()
    release()
    await other
    expect(await prune()).toBe(0)
  })

  it("listing pages use the listing indexes, first page and deep page alike", async () => {
    const store = stores.store()
    await run(store.management.count({}))
    await sql.unsafe(`INSERT INTO "${schema}".workflows (id, name, status, input, app_version, created_ms, updated_ms)
      SELECT 'w' || i, CASE WHEN i % 100 = 0 THEN 'a' ELSE 'b' END,
        CASE WHEN i % 100 = 1 THEN 'ERROR' ELSE 'SUCCESS' END, '1', 'v', i, i FROM generate_series(1, 20000) i`)
    await sql.unsafe(`ANALYZE "${schema}".workflows`)
    const { filterSql, makeManagementQueries, managementColumns } = await import("../src/managementQueries.ts")
    const q = makeManagementQueries(schema)
    const plan = async (filter: Parameters<typeof filterSql>[0], after?: [number, string]) => {
      const { where, params } = filterSql(filter)
      const text = q.list(where, "desc", after !== undefined, params.length + 1, managementColumns)
      const rows = await sql.unsafe(`EXPLAIN ${text}`, [...params, ...(after ?? []), 50] as never[])
      return rows.map((r) => r["QUERY PLAN"] as string).join("\n")
    }
    for (const [filter, index] of [
      [{}, "workflows_by_created"],
      [{ status: ["ERROR" as const] }, "workflows_by_status_created"],
      [{ names: ["a"] }, "workflows_by_name_created"],
    ] as const) {
      for (const after of [undefined, [10_000, "w10000"] as [number, string]]) {
        const text = await plan(filter, after)
        expect(text, text).toContain(index)
        expect(text, text).not.toMatch(/Seq Scan|Sort/)
      }
    }
  })
})

/** The tables that hold rows of a workflow, and the column naming it: found in the schema, so a new one is covered. */
const workflowTables = async (client: SqlStoreInternals["client"], schema: string) => {
  const rows = await client.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = $1 AND (column_name IN ('workflow_id', 'destination') OR (table_name = 'workflows' AND column_name = 'id'))
      ORDER BY table_name`,
    [schema],
  )
  return rows.map((r) => [r.table_name, r.column_name] as const)
}

/** Rows per table that belong to any of `ids`. */
const rowsOf = async (client: SqlStoreInternals["client"], schema: string, ids: ReadonlyArray<string>) => {
  const counts: Record<string, number> = {}
  for (const [table, column] of await workflowTables(client, schema)) {
    const [row] = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM "${schema}"."${table}" WHERE "${column}" = ANY($1::text[])`,
      [ids],
    )
    counts[table] = Number(row!.n)
  }
  return counts
}

const everyTable = ["event_history", "events", "messages", "steps", "stream_values", "streams", "workflows"]

const noRowBehind = async (store: Store, schema: string) => {
  const client = (store as { [sqlStoreInternals]?: SqlStoreInternals })[sqlStoreInternals]!.client
  await run(store.management.count({})) // the migrations run before a store's first statement
  expect((await workflowTables(client, schema)).map(([t]) => t)).toEqual(expect.arrayContaining(everyTable))
  const child = defineWorkflow("rows-child", async (ctx) => {
    await ctx.setEvent("k", "child")
    await ctx.writeStream("s", "child")
    return "kid"
  })
  const wf = defineWorkflow("rows", async (ctx) => {
    await ctx.setEvent("k", "first")
    await ctx.setEvent("k", "second")
    await ctx.writeStream("s", 1)
    await ctx.closeStream("s")
    const m = await ctx.recv<string>("m")
    await ctx.run(child, undefined)
    return m
  })
  const durably = await Durably.launch({ store, workflows: [wf, child], executorId: "rows", logger: false })
  try {
    const tree = async (id: string) => [
      id,
      ...(await durably.workflows.list({ parentId: id })).workflows.map((w) => w.id),
    ]
    for (const id of ["d1", "p1", "p2"]) {
      await durably.start(wf, undefined, { id })
      await durably.send(id, "m", "hello")
      await durably.send(id, "unread", "left in the inbox")
      expect(await durably.handle(id).result()).toBe("hello")
    }
    // Another finished one, of a status the prune below leaves alone: its rows must stay.
    await durably.start(wf, undefined, { id: "keep" })
    await durably.send("keep", "unread", "left in the inbox")
    for (const end = Date.now() + 20_000; (await durably.workflows.steps("keep")).length < 4;) {
      if (Date.now() > end) throw new Error("keep did not reach its recv")
      await new Promise((r) => setTimeout(r, 10))
    }
    await durably.workflows.cancel("keep")
    const kept = await rowsOf(client, schema, ["keep"])
    for (const t of ["events", "messages", "steps", "stream_values", "streams", "workflows"])
      expect(kept[t], `keep's rows in ${t}`).toBeGreaterThan(0)

    const d1 = await tree("d1")
    expect(d1).toHaveLength(2)
    const before = await rowsOf(client, schema, d1)
    for (const t of everyTable) expect(before[t], `rows in ${t} before the delete`).toBeGreaterThan(0)
    expect(before["messages"], "the consumed message and the unread one").toBe(2)
    await durably.workflows.delete("d1")
    expect(await rowsOf(client, schema, d1)).toEqual(Object.fromEntries(Object.keys(before).map((t) => [t, 0])))

    const pruned = [...(await tree("p1")), ...(await tree("p2"))]
    expect(pruned).toHaveLength(4)
    for (const t of everyTable) expect((await rowsOf(client, schema, pruned))[t]).toBeGreaterThan(0)
    // Prune takes what finished strictly before now: let the clock pass the last completion.
    const last = Math.max(
      ...(await Promise.all(pruned.map(async (id) => (await durably.workflows.get(id)).completedAt!.getTime()))),
    )
    while (Date.now() <= last) await new Promise((r) => setTimeout(r, 1))
    expect(await durably.workflows.prune({ olderThan: 0, status: ["SUCCESS"], batchSize: 1 })).toBe(4)
    expect(await rowsOf(client, schema, pruned)).toEqual(Object.fromEntries(Object.keys(before).map((t) => [t, 0])))
    expect(await rowsOf(client, schema, ["keep"]), "prune left the CANCELLED one").toEqual(kept)
  } finally {
    await durably.shutdown()
  }
}

describe("delete and prune leave no row behind in any table", () => {
  it("on Postgres", async () => {
    const own = freshSchema("rows")
    try {
      await noRowBehind(postgresStore({ url, schema: own, max: 4 }), own)
    } finally {
      await dropSchema(url, own)
    }
  })

  it("on PGlite", async () => {
    const dir = mkdtempSync(join(tmpdir(), "durably-rows-"))
    try {
      await noRowBehind(embeddedStore({ dir }), "durably")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
