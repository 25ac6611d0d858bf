/**
 * What is particular to the management plane on Postgres: one pruner at a time across processes (an
 * advisory lock), and listings served by the indexes of sql/0004 (the plans).
 */
import { afterAll, describe, expect, it } from "vitest"
import postgres from "postgres"
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
