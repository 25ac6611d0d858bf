/** Talking to a workflow from outside: one surface for the engine (`Durably`) and the client. */
import type { Engine } from "./engine/Engine.ts"
import type { GetEventOptions } from "./engine/events.ts"
import type { SendOptions } from "./engine/messages.ts"
import type { ReadStreamOptions } from "./engine/streams.ts"
import type { TopicRef } from "./topics.ts"

export interface Messaging {
  /**
   * Send a message to a workflow, on a topic name or a typed topic from `defineTopic`; it waits for the
   * workflow's `ctx.recv`. With `idempotencyKey`, sending the same key to the same workflow again delivers
   * nothing more. Rejects with WorkflowNotFound when no workflow has that id.
   */
  readonly send: <A = unknown>(
    workflowId: string,
    topic: TopicRef<A>,
    message: A,
    options?: SendOptions,
  ) => Promise<void>
  /**
   * The value a workflow set with `ctx.setEvent(key, …)`, waiting until it is set; undefined when `timeout`
   * passes first or the workflow ended without setting it. Rejects with WorkflowNotFound.
   */
  readonly getEvent: <A = unknown>(workflowId: string, key: string, options?: GetEventOptions) => Promise<A | undefined>
  /**
   * A workflow's stream `key`, from offset `from` (default 0): `for await (const v of durably.readStream(id, "tokens"))`.
   * Waits for new values; ends when the stream is closed or the workflow has ended.
   */
  readonly readStream: <A = unknown>(workflowId: string, key: string, options?: ReadStreamOptions) => AsyncIterable<A>
}

/** An engine's messaging calls (its own, or a client's). */
export const engineMessaging = (engine: Engine): Messaging => ({
  send: (workflowId, topic, message, options) => engine.send(workflowId, topic, message, options),
  getEvent: async <A>(workflowId: string, key: string, options?: GetEventOptions) =>
    (await engine.getEvent(workflowId, key, options)) as A | undefined,
  readStream: (workflowId, key, options) => engine.readStream(workflowId, key, options),
})
