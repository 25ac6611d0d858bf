/**
 * Waiting costs the server nothing: workflows asleep or waiting in recv, and a waiting result(), send no
 * statements while nothing happens (wake-ups come by NOTIFY), yet wake at once when something does.
 */
import { afterAll, expect, it } from "vitest"
import { Durably, defineWorkflow } from "@durably/core"
import postgres from "postgres"
import { postgresStore } from "../src/index.ts"
import { databaseUrl, dropSchema, freshSchema } from "./pg.ts"

const url = await databaseUrl()
const schema = freshSchema("idle")
afterAll(() => dropSchema(url, schema))

const waiter = defineWorkflow("idle-waiter", async (ctx, n: number) => {
  if (n % 2 === 0) await ctx.sleep("1 hour")
  else return ctx.recv<string>("go")
  return "slept"
})

it("50 waiting workflows and their awaited results send no statements until a message wakes one", async () => {
  const statements: string[] = []
  const sql = postgres(url, { max: 4, onnotice: () => undefined, debug: (_c, query) => void statements.push(query) })
  const durably = await Durably.launch({
    store: postgresStore({ sql, schema }),
    workflows: [waiter],
    heartbeat: false,
    logger: false,
  })
  try {
    const hs = await Promise.all(Array.from({ length: 50 }, (_, n) => durably.start(waiter, n)))
    const result = hs[1]!.result()
    await new Promise((r) => setTimeout(r, 500))
    const before = statements.length
    await new Promise((r) => setTimeout(r, 2_500))
    expect(statements.slice(before)).toEqual([])
    const sent = Date.now()
    await durably.send(hs[1]!.id, "go", "now")
    expect(await result).toBe("now")
    expect(Date.now() - sent).toBeLessThan(1_000)
  } finally {
    await durably.shutdown()
    await sql.end({ timeout: 1 })
  }
})
