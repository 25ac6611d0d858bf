/**
 * postgres.js 3.4 fills each result from a row counter kept per connection, reset only when a query
 * completes. A query that fails after some of its rows arrived (an error on a later row, or its backend killed
 * while rows stream, as `pg_terminate_backend` does) leaves the counter behind, and the next query on that
 * connection resolves with holes before its rows. The store's reads must still see their rows: a checkpoint
 * lookup that met a hole failed a workflow with "Cannot read properties of undefined (reading 'stepId')" in
 * connectionLoss.test.ts.
 */
import postgres from "postgres"
import { afterAll, describe, expect, it } from "vitest"
import { pgClient } from "../src/pgClient.ts"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"
import { done, newWorkflow, run } from "./support.ts"

const url = await databaseUrl()
const schema = freshSchema("sparse_results")
afterAll(() => dropSchema(url, schema))

/** Streams three rows, then fails on the fourth (division by zero). */
const failsMidStream = "SELECT i, 1 / (4 - i) AS boom FROM generate_series(1, 10) i"

describe("a query after one that failed mid-stream on the same connection", () => {
  it("the client's query answers its rows, without holes", async () => {
    const client = pgClient({ url, max: 1, fetchTypes: false })
    try {
      await expect(client.query(failsMidStream)).rejects.toMatchObject({ code: "22012" })
      const rows = await client.query<{ x: number }>("SELECT x FROM generate_series(1, 5) x")
      expect(rows).toHaveLength(5)
      expect([...rows].map((r) => r.x)).toEqual([1, 2, 3, 4, 5])
    } finally {
      await client.close()
    }
  })

  it("the store's checkpoint read sees every checkpoint (on the user's own postgres.js instance)", async () => {
    const sql = postgres(url, { max: 1, onnotice: () => undefined })
    const store = postgresStore({ sql, schema })
    try {
      const id = await newWorkflow(store)
      await run(store.writeCheckpoint(id, 1, done(0, "step")))
      await run(store.writeCheckpoint(id, 1, done(1, "step")))
      await expect(sql.unsafe(failsMidStream)).rejects.toMatchObject({ code: "22012" })
      const checkpoints = await run(store.loadCheckpoints(id))
      expect(checkpoints.map((c) => c?.stepId)).toEqual([0, 1])
    } finally {
      await run(store.close())
      await sql.end()
    }
  })
})
