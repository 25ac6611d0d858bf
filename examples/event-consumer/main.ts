/**
 * `pnpm example:event-consumer`: exactly-once processing of RabbitMQ messages (a local RabbitMQ on 5672,
 * guest/guest, or AMQP_URL). The consumer starts one `order-event` workflow per message, its id derived from
 * the message's id, and acks only after the start committed (`consumeExactlyOnce`, consume.ts); the workflow
 * records the event in a ledger table inside its step's transaction.
 *
 * By default it publishes a batch itself (20 events, 7 of them twice), loses one ack on purpose (as a consumer
 * that died between its start and its ack would: the broker redelivers the message and the start attaches),
 * consumes until the batch is done, and checks that the ledger has each event exactly once (exit 1 if not).
 * With `consume` it only consumes, until Ctrl-C, for `pnpm example:event-consumer:publish [count]` to feed:
 *
 *   pnpm example:event-consumer consume           # one terminal (more in others: they share the queue)
 *   pnpm example:event-consumer:publish 10        # another
 *
 * Runs on the embedded store (PGlite in .durably/event-consumer, wiped first), or on Postgres when
 * DATABASE_URL is set.
 */
import { setTimeout as sleep } from "node:timers/promises"
import amqp from "amqplib"
import { defineWorkflow } from "@durably/core"
import { transaction } from "@durably/postgres"
import { setUpExample } from "../shared/setup.ts"
import { consumeExactlyOnce } from "./consume.ts"
import { amqpUrl, makeEvents, ordersQueue, publishOrders, type OrderEvent } from "./publish.ts"

const mode = process.argv[2] ?? "demo"
if (mode !== "demo" && mode !== "consume") throw new Error(`unknown mode ${JSON.stringify(mode)}: demo or consume`)

const { say, launch } = setUpExample("event-consumer", "exactly-once processing of RabbitMQ messages")

// ---- The workflows: the ledger is in the store's database, written in the step's transaction ---------------

const ledger = "example_order_ledger"

const setUpLedger = defineWorkflow("set-up-ledger", async (ctx) => {
  await transaction(ctx, "create table", (sql) =>
    sql.query(
      `CREATE TABLE IF NOT EXISTS ${ledger} (event_id text PRIMARY KEY, order_id text NOT NULL, amount_cents integer NOT NULL)`,
    ),
  )
})

const orderEvent = defineWorkflow("order-event", async (ctx, event: OrderEvent) => {
  // Exactly once with the workflow: the row commits with the step's checkpoint, or neither does.
  await transaction(ctx, "record", (sql) =>
    sql.query(`INSERT INTO ${ledger} (event_id, order_id, amount_cents) VALUES ($1, $2, $3)`, [
      event.eventId,
      event.orderId,
      event.amountCents,
    ]),
  )
  ctx.log.info(`order ${event.orderId}: ${(event.amountCents / 100).toFixed(2)} € recorded`)
  return event.eventId
})

/** How many ledger rows each of `ids` has (read through a workflow's transaction: the store's database). */
const countLedger = defineWorkflow("count-ledger", async (ctx, ids: string[]) =>
  transaction(ctx, "count", async (sql) => {
    const rows = await sql.query<{ event_id: string; n: number }>(
      `SELECT event_id, count(*)::int AS n FROM ${ledger} WHERE event_id = ANY($1::text[]) GROUP BY event_id`,
      [ids],
    )
    return Object.fromEntries(rows.map((r) => [r.event_id, r.n]))
  }),
)

// ---- Run it ------------------------------------------------------------------------------------------------

const connection = await amqp.connect(amqpUrl).catch((e: unknown) => {
  console.error(`cannot reach RabbitMQ at ${amqpUrl} (${String(e)}): start one, or set AMQP_URL`)
  process.exit(1)
})
const durably = await launch({ workflows: [setUpLedger, orderEvent, countLedger] })
await durably.run(setUpLedger, undefined)
const channel = await connection.createConfirmChannel()
await channel.assertQueue(ordersQueue, { durable: true })
await channel.prefetch(10)

const events = mode === "demo" ? makeEvents(20) : []
const ours = new Set(events.map((e) => e.eventId))
let acks = 0
let deliveries = 0
let redeliveries = 0
let loseAck = events[3]?.eventId
await consumeExactlyOnce(channel, ordersQueue, {
  idOf: (message) => `order-event:${String(message.properties.messageId)}`,
  start: async (id, message) => {
    const event = JSON.parse(message.content.toString()) as OrderEvent
    if (ours.has(event.eventId)) {
      deliveries++
      if (message.fields.redelivered) redeliveries++
    }
    const handle = await durably.start(orderEvent, event, { id })
    say(`${message.fields.redelivered ? "redelivered" : "received"} ${event.eventId}: started ${handle.id}`)
    if (event.eventId === loseAck) {
      loseAck = undefined
      // As if the consumer died here: the start committed, the ack never went. consumeExactlyOnce gives the
      // message back to the broker, which redelivers it; its start then attaches to the workflow above.
      throw new Error("simulated crash between the start and the ack")
    }
  },
  onAcked: (id) => {
    if (ours.has(id.slice("order-event:".length))) acks++
  },
})

if (mode === "consume") {
  say(`consuming ${ordersQueue}; publish with \`pnpm example:event-consumer:publish 10\`, stop with Ctrl-C`)
  const stop = async () => {
    await channel.close().catch(() => undefined)
    await connection.close().catch(() => undefined)
    await durably.shutdown({ timeout: "5 seconds" })
    process.exit(0)
  }
  process.once("SIGINT", () => void stop())
  process.once("SIGTERM", () => void stop())
} else {
  const watchdog = setTimeout(() => {
    console.error("\nFAILED: the example did not finish within 60 seconds")
    process.exit(1)
  }, 60_000)
  watchdog.unref()
  const sent = await publishOrders(channel, events, 7)
  await channel.waitForConfirms()
  say(`published ${sent} messages: ${events.length} events, ${sent - events.length} of them twice`)
  const ids = [...ours]
  // Every message of the batch acked (the duplicates and the redelivery included; messages other runs left in
  // the queue are processed too, not counted), then every event's workflow done.
  while (acks < sent) await sleep(50) // one ack per message: the lost ack was a nack, its redelivery acked
  await Promise.all(ids.map((id) => durably.handle(`order-event:${id}`).result()))
  const counts = await durably.run(countLedger, ids)
  await channel.close()
  await connection.close()
  await durably.shutdown()
  const wrong = ids.filter((id) => counts[id] !== 1)
  const problems = [
    ...(wrong.length === 0
      ? []
      : [`ledger rows per event should be 1: ${wrong.map((id) => `${id}: ${counts[id] ?? 0}`).join(", ")}`]),
    ...(redeliveries > 0 ? [] : ["the message whose ack was lost never came back"]),
  ]
  if (problems.length > 0) {
    console.error(`\nFAILED: ${problems.join("; ")}`)
    process.exit(1)
  }
  console.log(
    `\n${deliveries} deliveries (${sent - ids.length} duplicates, ${redeliveries} redelivered after a lost ack), ${ids.length} events: each recorded exactly once.`,
  )
}
