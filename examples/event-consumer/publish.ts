/**
 * The publisher: order events to a RabbitMQ queue, each with its event id as the AMQP `messageId` (what the
 * consumer derives its workflow ids from), some of them sent twice as a publisher retrying after a lost
 * confirm would.
 *
 *   pnpm example:event-consumer:publish [count]     (AMQP_URL, default amqp://guest:guest@127.0.0.1:5672)
 */
import { pathToFileURL } from "node:url"
import amqp, { type Channel } from "amqplib"

export const amqpUrl = process.env["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672"
/** The queue the example's publisher and consumer share. */
export const ordersQueue = "durably-example-orders"

export interface OrderEvent {
  readonly eventId: string
  readonly orderId: string
  readonly amountCents: number
}

/** `count` events with ids unique to this call (a time-based prefix), so runs never collide. */
export const makeEvents = (count: number): OrderEvent[] => {
  const batch = Date.now().toString(36)
  return Array.from({ length: count }, (_, i) => ({
    eventId: `evt-${batch}-${i}`,
    orderId: `order-${i % 7}`,
    amountCents: 100 * (i + 1),
  }))
}

/** Publish each event, then the first `duplicates` of them again; resolves once the broker has them all. */
export const publishOrders = async (
  channel: Channel,
  events: ReadonlyArray<OrderEvent>,
  duplicates: number,
): Promise<number> => {
  await channel.assertQueue(ordersQueue, { durable: true })
  const all = [...events, ...events.slice(0, duplicates)]
  for (const e of all)
    channel.sendToQueue(ordersQueue, Buffer.from(JSON.stringify(e)), { messageId: e.eventId, persistent: true })
  return all.length
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const count = Number(process.argv[2] ?? 10)
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`the count must be a positive integer; got ${process.argv[2]}`)
  const connection = await amqp.connect(amqpUrl)
  const channel = await connection.createConfirmChannel()
  const events = makeEvents(count)
  const sent = await publishOrders(channel, events, Math.ceil(count / 3))
  await channel.waitForConfirms()
  console.log(`published ${sent} messages to ${ordersQueue}: ${count} events, ${sent - count} of them twice`)
  console.log(`events ${events[0]!.eventId} … ${events.at(-1)!.eventId}`)
  await connection.close()
}
