/** The Promise-flavour `ctx` handed to workflow functions. */
import type { WorkflowContext, WorkflowLogger } from "../workflow.ts"
import { stepScope, type Execution } from "./Execution.ts"
import type { LogLevel } from "./log.ts"
import { getEvent, setEvent, type GetEventOptions } from "./events.ts"
import { recv, send, type RecvOptions } from "./messages.ts"
import { currentTime, randomId, randomNumber, runStep, sleepFor, sleepUntil } from "./operations.ts"
import { writeStream } from "./streams.ts"
import { enqueueChild, runChild, startChild } from "./children.ts"

const executions = new WeakMap<object, Execution>()

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
  sleep: async (duration) => sleepFor(exec, duration),
  sleepUntil: async (until) => sleepUntil(exec, until),
  now: async () => currentTime(exec),
  random: async () => randomNumber(exec),
  uuid: async () => randomId(exec),
  send: async (workflowId, topic, message) => send(exec, workflowId, topic, message),
  recv: async (topic: unknown, options?: RecvOptions) => recv(exec, topic, options),
  setEvent: async (key, value) => setEvent(exec, key, value),
  getEvent: async <A>(workflowId: string, key: string, options?: GetEventOptions) =>
    (await getEvent(exec, workflowId, key, options)) as A | undefined,
  writeStream: async (key, value) => writeStream(exec, { key, value }, stepScope.getStore()),
  closeStream: async (key) => writeStream(exec, { key, close: true }, stepScope.getStore()),
  start: async (workflow, input, options) => startChild(exec, workflow, input, options),
  run: async (workflow, input, options) => runChild(exec, workflow, input, options),
  enqueue: async (queue, workflow, input, options) => enqueueChild(exec, queue, workflow, input, options),
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
