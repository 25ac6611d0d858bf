/**
 * Events: values a workflow publishes under a key (`ctx.setEvent`, last write wins, recorded with the step
 * that set it) for anyone to read (`durably.getEvent`, or `ctx.getEvent` from another workflow, recorded).
 * Readers wait until the key is set, the timeout passes, or the workflow ends without setting it.
 */
import type { Effect } from "effect"
import type { DurationInput } from "../duration.ts"
import { WorkflowNotFound, type StoreError } from "../errors.ts"
import { validateName } from "../workflow.ts"
import { OperationAbandoned, type Execution } from "./Execution.ts"
import type { Host } from "./Host.ts"
import { encodeArgument } from "./payload.ts"
import { revive } from "./revive.ts"
import { durableDeadline, hasEnded, parkWhenIdle, timeoutOf, waitFor } from "./waiting.ts"

/** Options of `getEvent`. */
export interface GetEventOptions {
  /** How long to wait for the key to be set; getEvent returns undefined when it passes. Default: no limit. */
  readonly timeout?: DurationInput
}

/** `ctx.setEvent`: set `key` to `value` for readers (last write wins); recorded, so replay does not set it again. */
export const setEvent = async (exec: Execution, key: string, value: unknown): Promise<void> => {
  exec.guard("setEvent")
  validateName(key, "ctx.setEvent: the key")
  const text = encodeArgument(
    value,
    undefined,
    `event ${JSON.stringify(key)}`,
    exec.payload,
    `ctx.setEvent(${JSON.stringify(key)}): undefined is not a valid event value (getEvent returns undefined while the key is not set); use null`,
  )
  const outcome = await exec.operation<void>("setEvent", key, {}, async (_stepId, _pending, prepare) => {
    const checkpoint = prepare({})
    return { committed: await exec.commit((epoch) => exec.host.store.setEvent(exec.id, epoch, key, text, checkpoint)) }
  })
  if (!outcome.ok) throw outcome.error
}

type Look =
  { readonly _tag: "Value"; readonly text: string } | { readonly _tag: "Ended" } | { readonly _tag: "NotFound" }

/** One look at an event: its value, or whether the workflow ended (or does not exist); undefined to wait on. */
const lookUp = async (
  call: <A>(effect: Effect.Effect<A, StoreError>) => Promise<A>,
  host: Host,
  workflowId: string,
  key: string,
): Promise<Look | undefined> => {
  const read = async (): Promise<Look | undefined> => {
    const text = await call(host.store.getEvent(workflowId, key))
    return text === undefined ? undefined : { _tag: "Value", text }
  }
  const value = await read()
  if (value) return value
  const record = await call(host.store.getWorkflow(workflowId))
  if (!record) return { _tag: "NotFound" }
  if (!hasEnded(record.status)) return undefined
  // It may have set the key between the two reads, just before it ended.
  return (await read()) ?? { _tag: "Ended" }
}

const wakesOf = (workflowId: string, key: string) =>
  [
    { kind: "event", workflowId, key },
    { kind: "status", workflowId },
  ] as const

/** `durably.getEvent`: the value of an event, waiting for it; undefined on timeout or if the workflow ended first. */
export const getEventFromOutside = async (
  host: Host,
  workflowId: string,
  key: string,
  options?: GetEventOptions,
): Promise<unknown> => {
  validateName(workflowId, "durably.getEvent: the workflow id")
  validateName(key, "durably.getEvent: the key")
  const timeoutMs = timeoutOf(options, `durably.getEvent(${JSON.stringify(key)})`)
  const look = await waitFor({
    host,
    wakes: wakesOf(workflowId, key),
    check: () => lookUp((e) => host.storeCall(e), host, workflowId, key),
    deadline: timeoutMs === undefined ? undefined : host.clock.currentTimeMillisUnsafe() + timeoutMs,
    signal: host.stopSignal,
  })
  if (look?._tag === "NotFound") throw new WorkflowNotFound({ workflowId })
  return look?._tag === "Value" ? host.serializer.decode(look.text) : undefined
}

/** `ctx.getEvent`: like `durably.getEvent`, recorded; its timeout is a deadline recorded like a sleep's. */
export const getEvent = async (
  exec: Execution,
  workflowId: string,
  key: string,
  options?: GetEventOptions,
): Promise<unknown> => {
  exec.guard("getEvent")
  validateName(workflowId, "ctx.getEvent: the workflow id")
  validateName(key, "ctx.getEvent: the key")
  const timeoutMs = timeoutOf(options, `ctx.getEvent(${JSON.stringify(key)})`)
  const host = exec.host
  const outcome = await exec.operation<unknown>("getEvent", key, {}, async (stepId, pending) => {
    const { deadline, onFirstMiss } = durableDeadline(exec, { stepId, name: key, kind: "getEvent" }, pending, timeoutMs)
    const wakes = wakesOf(workflowId, key)
    const look = await waitFor({
      host,
      wakes,
      check: () => {
        if (exec.isSettled) throw new OperationAbandoned()
        return lookUp((e) => exec.commit(() => e), host, workflowId, key)
      },
      deadline,
      signal: exec.waitingSignal,
      waiting: () => exec.waiting("outside"),
      onFirstMiss,
      park: parkWhenIdle(exec, wakes, deadline),
    })
    if (look?._tag === "NotFound")
      return { error: exec.encodeError(new WorkflowNotFound({ workflowId }), undefined, `getEvent "${key}"`) }
    // The event's stored text is the result as it stands; no output records "not set".
    return look?._tag === "Value" ? { output: look.text } : {}
  })
  if (!outcome.ok) throw revive(outcome.error, [WorkflowNotFound])
  return outcome.value
}
