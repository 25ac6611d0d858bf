/** Completions that arrive while one is in flight commit together: one statement (and one NOTIFY lock) per group. */
import { Effect } from "effect"
import { afterAll, expect, it } from "vitest"
import postgres from "postgres"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const schema = freshSchema("groupcommit")
afterAll(() => dropSchema(url, schema))

it("20 completions at once take two statements, each completion fenced and answered on its own", async () => {
  const statements: string[] = []
  const sql = postgres(url, { max: 4, onnotice: () => undefined, debug: (_c, query) => void statements.push(query) })
  const store = postgresStore({ sql, schema })
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
  try {
    const ids = Array.from({ length: 20 }, (_, i) => `w${i}`)
    for (const id of ids)
      await run(store.createWorkflow({ id, name: "wf", input: "1", appVersion: "v", executorId: "x" }))
    const before = statements.length
    const results = await Promise.allSettled(
      ids.map((id, i) =>
        // w7 carries a stale epoch: it alone is refused.
        run(store.completeWorkflow(id, i === 7 ? 5 : 1, { status: "SUCCESS", output: String(i) })),
      ),
    )
    // The first goes alone (the single-row statement), the other 19 together.
    const sent = statements.slice(before)
    expect(sent.filter((q) => /^UPDATE \S+\.workflows SET status = \$3/.test(q.trim())).length).toBe(1)
    expect(sent.filter((q) => q.includes("unnest($1::text[], $2::int[]")).length).toBe(1)
    results.forEach((r, i) => {
      if (i === 7) expect(r.status === "rejected" && (r.reason as { _tag?: string })._tag).toBe("FencedError")
      else expect(r.status === "fulfilled" && r.value.output).toBe(String(i))
    })
  } finally {
    await run(store.close())
    await sql.end({ timeout: 1 })
  }
})
