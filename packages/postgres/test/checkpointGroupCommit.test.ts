/**
 * Checkpoints of different workflows that arrive while one is in flight commit together: one statement (one
 * commit) per group, each still epoch-checked and answered on its own.
 */
import { Effect } from "effect"
import { afterAll, expect, it } from "vitest"
import postgres from "postgres"
import type { Checkpoint } from "@durably/core"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const schema = freshSchema("cpgroup")
afterAll(() => dropSchema(url, schema))

const done = (stepId: number, output: string): Checkpoint => ({
  stepId,
  name: `s${stepId}`,
  kind: "step",
  state: "done",
  seq: stepId,
  output,
  attempts: 1,
  startedAt: 1,
  completedAt: 2,
})

it("20 checkpoints at once take two statements; a stale epoch, a refused value and a repeat are each answered alone", async () => {
  const statements: string[] = []
  const sql = postgres(url, { max: 4, onnotice: () => undefined, debug: (_c, query) => void statements.push(query) })
  const store = postgresStore({ sql, schema })
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
  try {
    const ids = Array.from({ length: 20 }, (_, i) => `w${i}`)
    for (const id of ids)
      await run(store.createWorkflow({ id, name: "wf", input: "1", appVersion: "v", executorId: "x" }))
    const isBatch = (q: string) =>
      q.includes("owner AS MATERIALIZED (\n        SELECT id, epoch, status FROM") && q.includes("ANY($1::text[])")
    const isSingle = (q: string) => q.trim().startsWith("WITH owner AS MATERIALIZED")

    // All well: the first goes alone, the other 19 together.
    let before = statements.length
    const first = await Promise.all(ids.map((id, i) => run(store.writeCheckpoint(id, 1, done(0, `"${i}"`)))))
    let sent = statements.slice(before)
    expect(sent.filter(isSingle).length).toBe(1)
    expect(sent.filter(isBatch).length).toBe(1)
    expect(first.map((c) => c.output)).toEqual(ids.map((_, i) => `"${i}"`))
    const [count] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM ${sql(schema)}.steps WHERE step_id = 0`
    expect(count?.n).toBe(20)

    // w7 carries a stale epoch, w9 a value Postgres refuses (NUL), w3's step is written twice (the second
    // finds the first one done and gets it back): each is answered on its own, the others are written.
    before = statements.length
    const results = await Promise.allSettled([
      ...ids.map((id, i) =>
        run(store.writeCheckpoint(id, i === 7 ? 5 : 1, done(1, i === 9 ? '"\u0000"' : `"${i}-1"`))),
      ),
      run(store.writeCheckpoint("w3", 1, done(1, '"again"'))),
    ])
    sent = statements.slice(before)
    expect(sent.filter(isBatch).length).toBeGreaterThanOrEqual(1)
    results.forEach((r, i) => {
      if (i === 7) expect(r.status === "rejected" && (r.reason as { _tag?: string })._tag).toBe("FencedError")
      else if (i === 9) expect(r.status === "rejected" && (r.reason as { _tag?: string })._tag).toBe("StoreError")
      else if (i === 20) expect(r.status === "fulfilled" && r.value.output).toBe('"3-1"')
      else expect(r.status === "fulfilled" && r.value.output).toBe(`"${i}-1"`)
    })
    const rows = await sql<{ workflow_id: string; output: string }[]>`
      SELECT workflow_id, output FROM ${sql(schema)}.steps WHERE step_id = 1 ORDER BY workflow_id`
    expect(rows.map((r) => r.workflow_id).sort()).toEqual(ids.filter((_, i) => i !== 7 && i !== 9).sort())
    expect(rows.find((r) => r.workflow_id === "w3")?.output).toBe('"3-1"')
  } finally {
    await run(store.close())
    await sql.end({ timeout: 1 })
  }
})

it("a step written twice in the middle of a group: every caller gets its own workflow's checkpoint", async () => {
  const sql = postgres(url, { max: 4, onnotice: () => undefined })
  const store = postgresStore({ sql, schema })
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e)
  try {
    const ids = Array.from({ length: 6 }, (_, i) => `mid${i}`)
    for (const id of ids)
      await run(store.createWorkflow({ id, name: "wf", input: "1", appVersion: "v", executorId: "x" }))
    // The first goes alone; the rest wait together, mid1's step twice, with others after the repeat (as a
    // stopped execution's write queued beside the write of the workflow's next one would be).
    const writes = [
      ...ids.slice(0, 2).map((id, i) => ({ id, output: `"${i}"` })),
      { id: "mid1", output: '"again"' },
      ...ids.slice(2).map((id, i) => ({ id, output: `"${i + 2}"` })),
    ]
    const results = await Promise.all(writes.map((w) => run(store.writeCheckpoint(w.id, 1, done(0, w.output)))))
    // The repeat finds mid1's first write done and gets it back; every other caller its own.
    expect(results.map((c) => c.output)).toEqual(writes.map((w) => (w.output === '"again"' ? '"1"' : w.output)))
  } finally {
    await run(store.close())
    await sql.end({ timeout: 1 })
  }
})
