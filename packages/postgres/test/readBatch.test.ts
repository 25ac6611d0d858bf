/** Reads of single workflows that arrive while one is in flight go together: one statement per group. */
import { Effect } from "effect"
import { afterAll, expect, it } from "vitest"
import postgres from "postgres"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const schema = freshSchema("readbatch")
afterAll(() => dropSchema(url, schema))

it("20 reads at once take two statements, each answered with its own workflow (or none)", async () => {
  const statements: string[] = []
  const sql = postgres(url, { max: 4, onnotice: () => undefined, debug: (_c, query) => void statements.push(query) })
  const store = postgresStore({ sql, schema })
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
  try {
    const ids = Array.from({ length: 20 }, (_, i) => `r${i}`)
    // r5 is never created; r6 is asked for twice.
    for (const id of ids)
      if (id !== "r5")
        await run(store.createWorkflow({ id, name: "wf", input: `"${id}"`, appVersion: "v", executorId: "x" }))
    const before = statements.length
    const asked = [...ids, "r6"]
    const records = await Promise.all(asked.map((id) => run(store.getWorkflow(id))))
    const sent = statements.slice(before)
    expect(sent.filter((q) => /WHERE id = \$1$/.test(q.trim())).length).toBe(1)
    expect(sent.filter((q) => q.includes("WHERE id = ANY($1::text[])")).length).toBe(1)
    records.forEach((r, i) => {
      if (asked[i] === "r5") expect(r).toBeUndefined()
      else expect(r?.input).toBe(`"${asked[i]}"`)
    })
  } finally {
    await run(store.close())
    await sql.end({ timeout: 1 })
  }
})
