/** The Promise-flavour `ctx` handed to workflow functions. */
import type { WorkflowContext, WorkflowLogger } from "../workflow.ts"
import { stepScope, type Execution } from "./Execution.ts"
import type { LogLevel } from "./log.ts"
import { getEvent, setEvent, type GetEventOptions } from "./events.ts"
import { recv, send, type RecvOptions } from "./messages.ts"
import { currentTime, randomId, randomNumber, runStep, sleepFor, sleepUntil } from "./operations.ts"
import { writeStream } from "./streams.ts"
import { enqueueChild, runChild, startChild } from "./children.ts"
import { deprecatePatch, patched } from "./patches.ts"
import { debounceFromWorkflow } from "./debounce.ts"

const executions = new WeakMap<object, Execution>()

/**
 * The operation's promise, with a synchronous throw (bad arguments) turned into a rejection as an async
 * function would, but without an async function's frame: a workflow waiting in an operation holds one less
 * suspended frame (ten thousand waiting workflows hold ten thousand).
 */
const lift = <A>(run: () => Promise<A>): Promise<A> => {
  try {
    return run()
  } catch (e) {
    // What was thrown, unchanged, as an async function would reject with it.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    return Promise.reject(e)
  }
}

/** The execution behind a ctx, for operations that sibling packages add (e.g. SQL transactions). */
export const executionOf = (ctx: unknown): Execution | undefined =>
  typeof ctx === "object" && ctx !== null ? executions.get(ctx) : undefined

export const makeContext = (exec: Execution): WorkflowContext => {
  const ctx = buildContext(exec)
  executions.set(ctx, exec)
  return ctx
}

const buildContext = (exec: Execution): WorkflowContext => ({
  workflowId: exec.id,
  log: makeLogger(exec),
  step: async (name, fn, options) => {
    const outcome = await runStep(exec, name, fn, options)
    if (outcome.ok) return outcome.value
    throw outcome.error
  },
  sleep: (duration) => lift(() => sleepFor(exec, duration)),
  sleepUntil: (until) => lift(() => sleepUntil(exec, until)),
  now: () => lift(() => currentTime(exec)),
  random: () => lift(() => randomNumber(exec)),
  uuid: () => lift(() => randomId(exec)),
  patched: (name) => lift(() => patched(exec, name)),
  deprecatePatch: (name) => lift(() => deprecatePatch(exec, name)),
  send: (workflowId, topic, message) => lift(() => send(exec, workflowId, topic, message)),
  recv: (topic: unknown, options?: RecvOptions) => lift(() => recv(exec, topic, options)),
  setEvent: (key, value) => lift(() => setEvent(exec, key, value)),
  getEvent: async <A>(workflowId: string, key: string, options?: GetEventOptions) =>
    (await getEvent(exec, workflowId, key, options)) as A | undefined,
  writeStream: (key, value) => lift(() => writeStream(exec, { key, value }, stepScope.getStore())),
  closeStream: (key) => lift(() => writeStream(exec, { key, close: true }, stepScope.getStore())),
  start: (workflow, input, options) => lift(() => startChild(exec, workflow, input, options)),
  run: (workflow, input, options) => lift(() => runChild(exec, workflow, input, options)),
  enqueue: (queue, workflow, input, options) => lift(() => enqueueChild(exec, queue, workflow, input, options)),
  debounce: (workflow, key, input, options) => lift(() => debounceFromWorkflow(exec, workflow, key, input, options)),
})

/** Quiet while replaying: a recovered workflow does not log again what it logged before the crash. */
export const makeLogger = (exec: Execution): WorkflowLogger => {
  const emit = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    const inStep = stepScope.getStore()
    if (exec.replaying && !inStep) return
    exec.host.log({
      level,
      message,
      workflowId: exec.id,
      workflowName: exec.name,
      ...(inStep ? { step: inStep.step } : {}),
      ...(fields ? { fields } : {}),
    })
  }
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") }
}
