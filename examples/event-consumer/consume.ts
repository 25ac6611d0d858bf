/**
 * Exactly-once processing of a broker's messages: start one workflow per message with an id derived from the
 * message's identity, and acknowledge the message only after the start has committed. A redelivery (after a
 * consumer crashed before its ack, or a publisher that sent twice) starts the same id, which attaches to the
 * workflow already stored instead of running it again. See docs/triggers.md.
 */
import type { Channel, ConsumeMessage } from "amqplib"

export interface ExactlyOnceOptions {
  /** The workflow id for a message: the same message must always give the same id. */
  readonly idOf: (message: ConsumeMessage) => string
  /** Start (or attach to) the message's workflow; resolves once the start has committed. */
  readonly start: (id: string, message: ConsumeMessage) => Promise<unknown>
  /** Called after each ack, e.g. to log. */
  readonly onAcked?: (id: string) => void
}

/** Consume `queue` on `channel` (manual acks): one workflow start per message, the ack after it. */
export const consumeExactlyOnce = async (channel: Channel, queue: string, options: ExactlyOnceOptions) =>
  channel.consume(
    queue,
    (message) => {
      if (!message) return // the broker cancelled the consumer
      const id = options.idOf(message)
      options.start(id, message).then(
        () => {
          channel.ack(message)
          options.onAcked?.(id)
        },
        // Not stored: give it back to the broker, to this consumer or another, later.
        () => channel.nack(message, false, true),
      )
    },
    { noAck: false },
  )
