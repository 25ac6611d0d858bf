/**
 * Prepared statements on PGlite (src/pglitePrepared.ts): the root client plans each statement text once, and
 * gives the same values as PGlite's own `query` for every type the store sends and reads; a failed statement
 * leaves the session usable and fails with the database's error code.
 */
import * as pglite from "@electric-sql/pglite"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { toStoreError } from "../src/errors.ts"
import { pgliteClient } from "../src/pgliteClient.ts"
import type { SqlClient } from "../src/client.ts"

describe("prepared statements on PGlite", () => {
  let pg: pglite.PGlite
  let client: SqlClient

  beforeAll(async () => {
    pg = await pglite.PGlite.create()
    client = pgliteClient(pg, "in-memory PGlite", pglite)
    await client.exec(`CREATE TABLE t (
      id text PRIMARY KEY, n integer, big bigint, flag boolean, tags text[], nums integer[], doc jsonb, note text)`)
  }, 60_000)

  afterAll(async () => {
    await client.close()
  })

  const insert = `INSERT INTO t (id, n, big, flag, tags, nums, doc, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    RETURNING id, n, big, flag, tags, nums, doc, note`

  it("plans each text once, and its values match PGlite's own query", async () => {
    const row = ["a", 7, 2 ** 40, true, ["x", 'quote"d', "comma,ed", "back\\slash"], [1, 2, 3], { k: [1, "v"] }, null]
    const written = await client.query(insert, row)
    const again = await client.query(insert, ["b", -1, 1, false, [], [], [true, null], "it's ünïcode ✓"])
    const viaQuery = (await pg.query(`SELECT id, n, big, flag, tags, nums, doc, note FROM t ORDER BY id`)).rows
    expect([...written, ...again]).toEqual(viaQuery)
    expect(written[0]).toEqual({
      id: "a",
      n: 7,
      big: 2 ** 40,
      flag: true,
      tags: ["x", 'quote"d', "comma,ed", "back\\slash"],
      nums: [1, 2, 3],
      doc: { k: [1, "v"] },
      note: null,
    })
    const prepared = (
      await pg.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements WHERE name LIKE 'durably_%'`)
    ).rows
    expect(prepared.filter((p) => p.statement === insert)).toHaveLength(1)
  })

  it("a statement that fails carries the database's code, and the session goes on", async () => {
    const failure = await client.query(insert, ["a", 1, 1, true, [], [], {}, null]).catch((e: unknown) => e)
    expect(toStoreError("insert", failure).kind).toBe("unique-violation")
    const bad = await client.query(`SELEC nothing`, []).catch((e: unknown) => e)
    expect((bad as { code?: string }).code).toBe("42601")
    // The failed parse prepared nothing, and later statements (prepared or new) still run.
    const named = (await pg.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements`)).rows
    expect(named.filter((p) => p.statement.includes("SELEC nothing"))).toEqual([])
    expect(await client.query(`SELECT count(*)::int AS n FROM t WHERE id = $1`, ["a"])).toEqual([{ n: 1 }])
    expect(await client.query(insert, ["c", 3, 3, null, null, null, null, "c"])).toHaveLength(1)
  })

  it("inside a transaction statements take PGlite's own path, and roll back with it", async () => {
    await expect(
      client.transaction(async (tx) => {
        await tx.query(insert, ["in-tx", 1, 1, true, [], [], {}, null])
        throw new Error("roll back")
      }),
    ).rejects.toThrow("roll back")
    expect(await client.query(`SELECT id FROM t WHERE id = $1`, ["in-tx"])).toEqual([])
  })
  it("a PGlite module without the protocol pieces falls back to PGlite's own query", async () => {
    const older = { ...pglite, protocol: undefined } as unknown as typeof pglite
    const plain = pgliteClient(pg, "in-memory PGlite, plain", older)
    const text = `SELECT count(*)::int AS n FROM t WHERE note = $1`
    expect(await plain.query(text, ["c"])).toEqual([{ n: 1 }])
    const prepared = (await pg.query<{ statement: string }>(`SELECT statement FROM pg_prepared_statements`)).rows
    expect(prepared.filter((p) => p.statement === text)).toEqual([])
  })
})
