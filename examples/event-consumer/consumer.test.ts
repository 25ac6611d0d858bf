/**
 * The exactly-once consumer on a real RabbitMQ (127.0.0.1:5672, or AMQP_URL) and Postgres: 30 order events are
 * published, 10 of them twice (a publisher retrying). Consumer A SIGKILLs itself after its 5th start, before
 * that message's ack; consumer B gets what A left unacked, redelivered. Every event is recorded exactly once.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import { fileURLToPath } from "node:url"
import amqp from "amqplib"
import postgres from "postgres"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ConsumerConfig, OrderEvent } from "./consumer.ts"

const amqpUrl = process.env["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672"
/** DATABASE_URL, else the standard PG* variables, as the other Postgres tests. */
const databaseUrl = () => {
  const url = process.env["DATABASE_URL"]
  if (url) return url
  const e = process.env
  if (!e["PGHOST"]) throw new Error("the consumer test needs Postgres: set DATABASE_URL or PGHOST/PGUSER/PGDATABASE")
  return `postgres://${encodeURIComponent(e["PGUSER"] ?? "postgres")}@${e["PGHOST"]}:${e["PGPORT"] ?? "5432"}/${e["PGDATABASE"] ?? "postgres"}`
}
const queue = `durably-orders-${randomUUID().slice(0, 8)}`
const db = {} as { url: string; schema: string; sql: postgres.Sql }
const children: ChildProcess[] = []

beforeAll(async () => {
  db.url = databaseUrl()
  db.schema = `consumer_${randomUUID().replaceAll("-", "").slice(0, 10)}`
  db.sql = postgres(db.url, { max: 2, onnotice: () => undefined })
  await db.sql.unsafe(`CREATE SCHEMA ${db.schema}`)
  await db.sql.unsafe(
    `CREATE TABLE ${db.schema}.ledger (event_id text NOT NULL, order_id text NOT NULL, amount_cents integer NOT NULL, executor text NOT NULL)`,
  )
})
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  await db.sql?.end({ timeout: 1 })
  if (db.url && db.schema) {
    const sql = postgres(db.url, { max: 1, onnotice: () => undefined })
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`)
    await sql.end({ timeout: 1 })
  }
})

interface Consumer {
  readonly lines: string[]
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly child: ChildProcess
}

const spawnConsumer = (executorId: string, crashAfterStarts?: number): Consumer => {
  const config: ConsumerConfig = {
    databaseUrl: db.url,
    schema: db.schema,
    ledgerTable: `${db.schema}.ledger`,
    amqpUrl,
    queue,
    executorId,
    ...(crashAfterStarts === undefined ? {} : { crashAfterStarts }),
  }
  const child = spawn(
    process.execPath,
    ["--conditions=@durably/source", fileURLToPath(new URL("consumer.ts", import.meta.url)), JSON.stringify(config)],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_NO_WARNINGS: "1" } },
  )
  children.push(child)
  const lines: string[] = []
  let pending = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (pending + chunk).split("\n")
    pending = parts.pop() ?? ""
    lines.push(...parts)
  })
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on("exit", (code, signal) => r({ code, signal })),
  )
  return { lines, exit, child }
}

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 60_000) => {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe("exactly-once consumer on RabbitMQ", () => {
  it("every event is processed once despite duplicates, redeliveries and a consumer killed between start and ack", async () => {
    const connection = await amqp.connect(amqpUrl)
    const channel = await connection.createChannel()
    await channel.assertQueue(queue, { durable: false, autoDelete: false })
    try {
      const events: OrderEvent[] = Array.from({ length: 30 }, (_, i) => ({
        eventId: `evt-${i}`,
        orderId: `order-${i % 7}`,
        amountCents: 100 * (i + 1),
      }))
      const publish = (e: OrderEvent) =>
        channel.sendToQueue(queue, Buffer.from(JSON.stringify(e)), { messageId: e.eventId, persistent: false })
      for (const e of events) publish(e)
      for (const e of events.slice(0, 10)) publish(e) // the publisher's retries: the same messages again

      // A alone first, so that it takes messages and dies holding unacked ones.
      const a = spawnConsumer("consumer-a", 5)
      const killed = await a.exit
      expect(killed.signal).toBe("SIGKILL")
      const crashedOn = a.lines.filter((l) => l.startsWith("STARTED ")).at(-1)
      expect(crashedOn, a.lines.join("\n")).toBeDefined()
      const crashedId = (JSON.parse(crashedOn!.slice("STARTED ".length)) as { id: string }).id
      expect(a.lines.some((l) => l === `ACKED ${JSON.stringify({ id: crashedId })}`)).toBe(false)

      const b = spawnConsumer("consumer-b")
      const ledger = async () =>
        (await db.sql.unsafe(`SELECT event_id, executor FROM ${db.schema}.ledger`)) as unknown as Array<{
          event_id: string
          executor: string
        }>
      await until("30 events recorded and the queue drained", async () => {
        const q = await channel.checkQueue(queue)
        return (await ledger()).length >= 30 && q.messageCount === 0
      })
      // Whatever is still in flight finishes: every workflow of the run has ended.
      await until("every order-event workflow SUCCESS", async () => {
        const [row] = await db.sql.unsafe(
          `SELECT count(*) FILTER (WHERE status <> 'SUCCESS')::int AS open, count(*)::int AS total FROM ${db.schema}.workflows WHERE name = 'order-event'`,
        )
        return row?.["open"] === 0 && row?.["total"] === 30
      })
      b.child.kill("SIGTERM")
      await b.exit

      const rows = await ledger()
      const redelivered = b.lines.filter((l) => l.includes('"redelivered":true')).length
      console.log(
        `[consumer] 40 messages (30 events, 10 sent twice); A started ${a.lines.filter((l) => l.startsWith("STARTED ")).length} and was killed before acking ${crashedId}; B got ${redelivered} redeliveries; ledger: ${rows.length} rows`,
      )
      expect(rows).toHaveLength(30)
      expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(events.map((e) => e.eventId)))
      // The message A died holding came back to B, which attached to the workflow A had stored.
      expect(b.lines.some((l) => l.includes(crashedId) && l.includes('"redelivered":true'))).toBe(true)
      expect(redelivered).toBeGreaterThan(0)
    } finally {
      await channel.deleteQueue(queue).catch(() => undefined)
      await connection.close()
    }
  }, 120_000)
})
