/**
 * One execution from start to end: decode the input, run the workflow function, encode its outcome and
 * complete the workflow in the store; time it out at its deadline and stop it when it is cancelled.
 */
import { Effect } from "effect"
import { FencedError, StoreError } from "../errors.ts"
import type { WorkflowRecord } from "../store/Store.ts"
import { makeContext } from "./context.ts"
import type { Execution } from "./Execution.ts"
import type { Host } from "./Host.ts"
import { decodeValue, encodeError, encodeValue } from "./payload.ts"

export interface ExecutionEnd {
  readonly status: "SUCCESS" | "ERROR"
  /** The encoded output or error. */
  readonly text: string
  /** What the workflow threw (ERROR), for observers. */
  readonly error?: unknown
  /** The final record, when this execution completed the workflow. */
  readonly record?: WorkflowRecord
}

/** Run the workflow function to its end and record the outcome (unless the execution stopped). */
export const runToEnd = async (host: Host, exec: Execution): Promise<ExecutionEnd | undefined> => {
  const { store } = host
  // Set while this execution times its workflow out: the cancellation the store then reports is the timeout.
  let expiring = false
  const unwatch = store.watch(exec.id, (status) => {
    if (status === "CANCELLED") exec.stop(expiring ? "timeout" : "cancelled")
  })
  const deadlineTimer = exec.record.deadline !== undefined ? new AbortController() : undefined
  if (deadlineTimer) armDeadline(host, exec, exec.record.deadline!, deadlineTimer.signal, () => (expiring = true))
  try {
    const def = exec.definition
    const body = async () => {
      const input = decodeValue(exec.record.input, def.schemas.input, "input", exec.payload)
      return def.execute(
        { ctx: makeContext(exec), execution: exec, runEffect: host.runEffect, services: host.services },
        input,
      )
    }
    const observed = exec.observed
    const outcome = await exec.runBody(observed?.run ? () => observed.run!(body) : body)
    if (!outcome) return undefined
    let completion: ExecutionEnd
    try {
      completion = outcome.ok
        ? { status: "SUCCESS", text: encodeValue(outcome.value, def.schemas.output, "output", exec.payload) }
        : {
            status: "ERROR",
            text: encodeError(outcome.error, def.schemas.error, "error", exec.payload),
            error: outcome.error,
          }
    } catch (e) {
      completion = { status: "ERROR", text: encodeError(e, undefined, "error", exec.payload), error: e }
    }
    const complete = (c: { readonly status: "SUCCESS" | "ERROR"; readonly text: string }) =>
      host.storeCall(
        store.completeWorkflow(
          exec.id,
          exec.epoch,
          c.status === "SUCCESS" ? { status: "SUCCESS", output: c.text } : { status: "ERROR", error: c.text },
        ),
      )
    try {
      try {
        return { ...completion, record: await complete(completion) }
      } catch (e) {
        // The store refuses the outcome itself: record that refusal as the workflow's error instead of
        // leaving it PENDING for a recovery that would be refused the same way.
        if (!(e instanceof StoreError && e.kind === "invalid-data")) throw e
        const refused = { status: "ERROR" as const, text: encodeError(e, undefined, "error", exec.payload), error: e }
        return { ...refused, record: await complete(refused) }
      }
    } catch (e) {
      if (!(e instanceof FencedError)) throw e
    }
    return completion
  } finally {
    deadlineTimer?.abort()
    unwatch()
  }
}

/** Time the workflow out at its recorded deadline: cancel it in the store, then stop the execution here. */
const armDeadline = (host: Host, exec: Execution, deadline: number, signal: AbortSignal, expiring: () => void) => {
  const expire = async () => {
    if (exec.stopped) return
    expiring()
    const record = await host.storeCall(host.store.cancelWorkflow(exec.id, "timeout"))
    if (record?.status === "CANCELLED") exec.stop(record.cancelReason ?? "timeout")
  }
  const remaining = deadline - host.clock.currentTimeMillisUnsafe()
  const fire = () =>
    expire().catch((e: unknown) =>
      host.log({
        level: "error",
        message: `could not time out the workflow: ${String(e)}`,
        workflowId: exec.id,
      }),
    )
  if (remaining <= 0) void fire()
  else host.runEffect(Effect.sleep(remaining), signal).then(fire, () => undefined)
}
