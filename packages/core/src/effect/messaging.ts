/**
 * Talking to workflows from outside, as Effects: send a message, read an event, read a stream. One surface for
 * the engine's service and the client's, built from either Promise object.
 */
import { Effect, Option, Stream } from "effect"
import type { GetEventOptions } from "../engine/events.ts"
import type { SendOptions } from "../engine/messages.ts"
import type { ReadStreamOptions } from "../engine/streams.ts"
import type { Messaging } from "../messaging.ts"
import type { TopicRef } from "../topics.ts"
import { isReadError, isSendError, type ReadError, type SendError } from "./errors.ts"
import { fromPromise } from "./handle.ts"

export interface MessagingService {
  /** Send a message to a workflow (see the Promise API's `send`); with `idempotencyKey`, a resend delivers nothing. */
  readonly send: <A = unknown>(
    workflowId: string,
    topic: TopicRef<A>,
    message: A,
    options?: SendOptions,
  ) => Effect.Effect<void, SendError>
  /** A workflow's event, waiting until it is set: `Option.none()` on timeout or if the workflow ended without it. */
  readonly getEvent: <A = unknown>(
    workflowId: string,
    key: string,
    options?: GetEventOptions,
  ) => Effect.Effect<Option.Option<A>, ReadError>
  /** A workflow's stream `key` from offset `from`: ends when the stream is closed or the workflow has ended. */
  readonly readStream: <A = unknown>(
    workflowId: string,
    key: string,
    options?: ReadStreamOptions,
  ) => Stream.Stream<A, ReadError>
}

/** The same three calls of an engine or a client in the Promise API, as Effects. */
export const messagingToEffect = (p: Messaging): MessagingService => ({
  send: (workflowId, topic, message, options) =>
    fromPromise(() => p.send(workflowId, topic, message, options), isSendError),
  getEvent: <A>(workflowId: string, key: string, options?: GetEventOptions) =>
    Effect.map(
      fromPromise(() => p.getEvent<A>(workflowId, key, options), isReadError),
      Option.fromUndefinedOr,
    ),
  readStream: <A>(workflowId: string, key: string, options?: ReadStreamOptions) =>
    Stream.suspend(() => {
      let values: AsyncIterable<A>
      try {
        values = p.readStream<A>(workflowId, key, options)
      } catch (e) {
        return isReadError(e) ? Stream.fail(e) : Stream.die(e)
      }
      return Stream.fromAsyncIterable(values, (e) => e).pipe(
        Stream.catch((e) => (isReadError(e) ? Stream.fail(e) : Stream.die(e))),
      )
    }),
})
