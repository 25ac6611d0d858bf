/**
 * A consumer process: Durably on Postgres, and a RabbitMQ consumer that starts one `order-event` workflow per
 * message (id `order-event:<message id>`) and acks after the start committed. The workflow records the event
 * in a ledger table inside its step's transaction, so the ledger row exists once per workflow whatever
 * crashes. With `crashAfterStarts: n` the process SIGKILLs itself after its n-th start and before that
 * message's ack: the broker then redelivers it (and every other unacked one) to another consumer.
 *
 *   node --conditions=@durably/source examples/event-consumer/consumer.ts '<ConsumerConfig as JSON>'
 */
import amqp from "amqplib"
import { defineWorkflow, Durably } from "@durably/core"
import { postgresStore, transaction } from "@durably/postgres"
import { consumeExactlyOnce } from "./consume.ts"
import type { OrderEvent } from "./publish.ts"

export interface ConsumerConfig {
  readonly databaseUrl: string
  readonly schema: string
  /** `schema.table` for the ledger: (event_id, order_id, amount_cents, executor). */
  readonly ledgerTable: string
  readonly amqpUrl: string
  readonly queue: string
  readonly executorId: string
  readonly crashAfterStarts?: number
}

export type { OrderEvent } from "./publish.ts"

const config = JSON.parse(process.argv[2] ?? "") as ConsumerConfig
if (!/^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/.test(config.ledgerTable))
  throw new Error("ledgerTable must be schema.table")
const say = (tag: string, data: object) => process.stdout.write(`${tag} ${JSON.stringify(data)}\n`)

const orderEvent = defineWorkflow("order-event", async (ctx, event: OrderEvent) => {
  await transaction(ctx, "record", (sql) =>
    sql.query(
      `INSERT INTO ${config.ledgerTable} (event_id, order_id, amount_cents, executor) VALUES ($1, $2, $3, $4)`,
      [event.eventId, event.orderId, event.amountCents, config.executorId],
    ),
  )
  return event.eventId
})

const durably = await Durably.launch({
  store: postgresStore({ url: config.databaseUrl, schema: config.schema, max: 4 }),
  workflows: [orderEvent],
  executorId: config.executorId,
  appVersion: "event-consumer",
  heartbeat: { interval: 200, lease: 1000 }, // a killed consumer's workflows move on within a second
  logger: false,
})
const connection = await amqp.connect(config.amqpUrl)
const channel = await connection.createChannel()
await channel.prefetch(5)
let starts = 0
await consumeExactlyOnce(channel, config.queue, {
  idOf: (message) => `order-event:${String(message.properties.messageId)}`,
  start: async (id, message) => {
    const handle = await durably.start(orderEvent, JSON.parse(message.content.toString()) as OrderEvent, { id })
    say("STARTED", { id: handle.id, redelivered: message.fields.redelivered })
    if (++starts === config.crashAfterStarts) process.kill(process.pid, "SIGKILL") // stored, not acked
  },
  onAcked: (id) => say("ACKED", { id }),
})
say("READY", { pid: process.pid })

process.on("SIGTERM", () => {
  void (async () => {
    await channel.close().catch(() => undefined)
    await connection.close().catch(() => undefined)
    await durably.shutdown({ timeout: "5 seconds" })
    process.exit(0)
  })()
})
