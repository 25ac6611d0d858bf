/**
 * Messages between workflows and from the outside world. `durably.send` adds a message (once per idempotency
 * key); `ctx.send` is an operation whose checkpoint is written with the message, so a replay never sends again;
 * `ctx.recv` consumes the oldest message of its topic together with its own checkpoint, so a message is
 * received exactly once, whatever crashes, and a fenced zombie cannot take one. Messages sent before `recv`
 * wait for it, in order per topic. A recv timeout is a deadline recorded like a sleep's.
 */
import type { DurationInput } from "../duration.ts"
import { WorkflowNotFound } from "../errors.ts"
import { resolveTopic } from "../topics.ts"
import { validateName } from "../workflow.ts"
import { OperationAbandoned, type Execution, type OperationResult } from "./Execution.ts"
import type { Host } from "./Host.ts"
import { encodeArgument, type PayloadContext } from "./payload.ts"
import { revive } from "./revive.ts"
import { durableDeadline, parkWhenIdle, timeoutOf, waitFor } from "./waiting.ts"

/** Options of `durably.send`. */
export interface SendOptions {
  /** The same key sent twice to one workflow delivers once (e.g. the id of the webhook event). */
  readonly idempotencyKey?: string
}

/** Options of `ctx.recv`. */
export interface RecvOptions {
  /** How long to wait; recv returns undefined when it passes (durable: after a restart only the remainder). */
  readonly timeout?: DurationInput
}

/*
 * Idempotency keys live in two namespaces, so that no key a user chooses can ever match one the engine derives
 * for a `ctx.send` (the sender's id and the send's step).
 */
const userKey = (key: string) => `user:${key}`
const sendKey = (sender: string, stepId: number) => `send:${sender}:${stepId}`

const undefinedMessage = (where: string) =>
  `${where}: undefined is not a valid message (ctx.recv returns undefined when it times out); send null or another value`

const messageWhat = (topic: string) => `message on topic ${JSON.stringify(topic)}`

/** `durably.send`: deliver a message to a workflow from anywhere. */
export const sendMessage = async (
  host: Host,
  destination: string,
  topic: unknown,
  message: unknown,
  options: SendOptions = {},
): Promise<void> => {
  validateName(destination, "durably.send: the workflow id")
  const t = resolveTopic(topic, "durably.send: the topic")
  const key = options.idempotencyKey
  if (key !== undefined) validateName(key, "durably.send: idempotencyKey")
  const p: PayloadContext = {
    serializer: host.serializer,
    maxPayloadBytes: host.maxPayloadBytes,
    workflowId: destination,
    workflowName: destination,
  }
  const payload = encodeArgument(message, t.codec, messageWhat(t.name), p, undefinedMessage("durably.send"))
  // The caller's trace context goes with the message, to the recv that consumes it.
  const carried = host.carry?.()
  const result = await host.storeCall(
    host.store.sendMessage({
      destination,
      topic: t.name,
      payload,
      ...(key === undefined ? {} : { idempotencyKey: userKey(key) }),
      ...(carried === undefined ? {} : { traceContext: carried }),
    }),
  )
  if (result._tag === "NotFound") throw new WorkflowNotFound({ workflowId: destination })
}

/** `ctx.send`: recorded, so the message is sent once however often the workflow replays. */
export const send = async (exec: Execution, destination: string, topic: unknown, message: unknown): Promise<void> => {
  exec.guard("send")
  validateName(destination, "ctx.send: the workflow id")
  const t = resolveTopic(topic, "ctx.send: the topic")
  const payload = encodeArgument(message, t.codec, messageWhat(t.name), exec.payload, undefinedMessage("ctx.send"))
  const outcome = await exec.operation<void>("send", t.name, {}, async (stepId, _pending, prepare) => {
    const checkpoint = prepare({})
    // In the send operation's scope: its span (if any) is what the receiver links to.
    const carried = exec.host.carry?.()
    const message = {
      destination,
      topic: t.name,
      payload,
      idempotencyKey: sendKey(exec.id, stepId),
      ...(carried === undefined ? {} : { traceContext: carried }),
    }
    const result = await exec.commit((epoch) => exec.host.store.sendFromWorkflow(exec.id, epoch, message, checkpoint))
    if (result._tag !== "NotFound") return { committed: checkpoint }
    // Recorded, so that a replay fails the same way even if the workflow exists by then.
    const error = new WorkflowNotFound({ workflowId: destination })
    return { error: exec.encodeError(error, undefined, `send to ${destination}`) }
  })
  if (!outcome.ok) throw revive(outcome.error, [WorkflowNotFound])
}

/** `ctx.recv`: the oldest message of the topic, consumed with the checkpoint; undefined if the timeout passes. */
export const recv = async (exec: Execution, topic: unknown, options?: RecvOptions): Promise<unknown> => {
  exec.guard("recv")
  const t = resolveTopic(topic, "ctx.recv: the topic")
  const timeoutMs = timeoutOf(options, `ctx.recv(${JSON.stringify(t.name)})`)
  const host = exec.host
  const outcome = await exec.operation<unknown>(
    "recv",
    t.name,
    { output: t.codec },
    async (stepId, pending, prepare, retract) => {
      const { deadline, onFirstMiss } = durableDeadline(
        exec,
        { stepId, name: t.name, kind: "recv" },
        pending,
        timeoutMs,
      )
      const wakes = [{ kind: "message", workflowId: exec.id, topic: t.name }] as const
      const received = await waitFor({
        host,
        wakes,
        check: async () => {
          // The workflow function returned (this recv lost a race): it must consume nothing.
          if (exec.isSettled) throw new OperationAbandoned()
          const done = await exec.commit((epoch) => host.store.receiveMessage(exec.id, epoch, t.name, prepare({})))
          if (!done) retract()
          return done
        },
        deadline,
        signal: exec.waitingSignal,
        waiting: () => exec.waiting("outside"),
        onFirstMiss,
        park: parkWhenIdle(exec, wakes, deadline),
      })
      // Timed out: a done checkpoint with no output.
      const timedOut: OperationResult = {}
      if (!received) return timedOut
      const { traceContext, ...committed } = received
      return traceContext === undefined ? { committed } : { committed, carried: traceContext }
    },
  )
  if (!outcome.ok) throw outcome.error
  return outcome.value
}
