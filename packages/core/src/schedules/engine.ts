/**
 * Schedules in an engine: the code schedules a launch stores, the runner that fires ticks on this process,
 * and `durably.schedules`. A tick starts its workflow here (or enqueues it on the schedule's queue) with the
 * id derived from the schedule and the tick's instant, so of all the processes that fire it one creates it
 * and the others attach.
 */
import { Effect } from "effect"
import type { Engine } from "../engine/Engine.ts"
import { enqueueWorkflows } from "../engine/enqueue.ts"
import { makeHandle, type WorkflowHandle } from "../engine/handle.ts"
import { scheduleTickId, scheduleTriggerId } from "../engine/ids.ts"
import { describeValue } from "../echo.ts"
import { encodeValue } from "../engine/payload.ts"
import { InvalidArgument } from "../errors.ts"
import { uuidv7 } from "../ids.ts"
import type { ScheduleRecord } from "../store/Store.ts"
import { defineWorkflow, type AnyWorkflow } from "../workflow.ts"
import { makeSchedules, specOf, type EncodeScheduleInput, type Schedules, type SchedulesHost } from "./api.ts"
import type { ScheduleDefinition } from "./define.ts"
import { startScheduleRunner, type ScheduleRunner } from "./runner.ts"

/** Stands in for a workflow known only by name (a client enqueueing a tick): never run here. */
const nameOnly = (name: string): AnyWorkflow =>
  defineWorkflow(name, () =>
    Promise.reject(new InvalidArgument({ reason: `workflow ${JSON.stringify(name)} does not run here` })),
  ) as AnyWorkflow

export interface EngineSchedules {
  readonly api: Schedules
  /** Store the code schedules, then start firing. */
  readonly launch: () => Promise<void>
  readonly stop: () => Promise<void>
}

export const engineSchedules = (engine: Engine, definitions: ReadonlyArray<ScheduleDefinition>): EngineSchedules => {
  const host = engine.host
  const now = () => host.clock.currentTimeMillisUnsafe()
  const call = <A>(effect: Effect.Effect<A, unknown>): Promise<A> => host.storeCall(effect as Effect.Effect<A, never>)

  const run = async (s: ScheduleRecord, scheduledAt: number, id: string): Promise<WorkflowHandle> => {
    const known = engine.definition(s.workflowName)
    const runsHere = known !== undefined && engine.config.runsWorkflows
    if (!runsHere && s.queue === undefined)
      throw new InvalidArgument({
        reason: `schedule ${JSON.stringify(s.name)} starts workflow ${JSON.stringify(s.workflowName)} on the process that runs it, and this one cannot (${engine.config.runsWorkflows ? "it was not launched with that workflow" : "a client runs no workflows"}): do it from a process launched with the workflow, or give the schedule a queue`,
      })
    // Enqueueing needs only the name: a worker with the code claims it.
    const def = known ?? nameOnly(s.workflowName)
    const input = {
      scheduledAt: new Date(scheduledAt),
      startedAt: new Date(now()),
      ...(s.input === undefined ? {} : { input: host.serializer.decode(s.input) }),
    }
    if (s.queue === undefined) return engine.startDerived(def, input, id)
    await enqueueWorkflows(host, engine.appVersion, {
      queue: s.queue,
      workflow: def,
      inputs: [input],
      options: () => ({}),
      derivedIds: [id],
      api: `schedule ${JSON.stringify(s.name)}`,
    })
    return makeHandle(engine.handles, id)
  }

  const encodeInput: EncodeScheduleInput = (input, schedule, workflowName) =>
    encodeValue(input, undefined, `input of schedule ${describeValue(schedule)}`, {
      serializer: host.serializer,
      maxPayloadBytes: engine.config.maxPayloadBytes,
      workflowId: `(the schedule's runs)`,
      workflowName,
    })
  const apiHost: SchedulesHost = {
    store: engine.store,
    call,
    serializer: host.serializer,
    encodeInput,
    now,
    run,
    triggerId: (s) => scheduleTriggerId(s.name, uuidv7(now())),
    tickId: (s, t) => scheduleTickId(s.name, t),
  }
  let runner: ScheduleRunner | undefined

  return {
    api: makeSchedules(apiHost),
    launch: async () => {
      for (const d of definitions) {
        const put = await call(engine.store.putSchedule(specOf(d, encodeInput), "code"))
        if (put._tag === "Replaced" && put.previous.origin === "runtime")
          host.log({
            level: "warn",
            message: `schedule ${JSON.stringify(d.name)} was created at runtime; this launch's defineSchedule of the same name replaced it (code wins)`,
          })
      }
      runner = startScheduleRunner({
        store: engine.store,
        call,
        log: host.log,
        now,
        sleep: (ms, signal) => host.runEffect(Effect.sleep(Math.max(0, ms)), signal),
        canRun: (name) => engine.definition(name) !== undefined,
        fire: async (s, ticks) => {
          for (const t of ticks) await run(s, t, scheduleTickId(s.name, t))
        },
      })
    },
    stop: async () => {
      await runner?.stop()
    },
  }
}
