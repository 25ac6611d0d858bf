/**
 * Accessors for the running workflow's ctx, for helpers written outside a workflow function. Imported as
 * a module (`import { Workflow } from "@durably/core/effect"`), each one needs the `WorkflowCtx` service:
 *
 * ```ts
 * const charge = (order: Order): Effect.Effect<Receipt, Declined, WorkflowCtx | Payments> =>
 *   Workflow.step("charge", Payments.use((p) => p.charge(order)))
 * ```
 */
import type { Effect, Option } from "effect"
import type { DurationInput } from "../duration.ts"
import type { GetEventOptions } from "../engine/events.ts"
import type { RecvOptions } from "../engine/messages.ts"
import type { WorkflowNotFound } from "../errors.ts"
import type { TopicRef } from "../topics.ts"
import { WorkflowCtx, type EffectStepOptions, type StepBody } from "./WorkflowCtx.ts"

/** `ctx.step` of the running workflow. */
export const step = <A, E = never, R = never>(
  name: string,
  body: StepBody<A, E, R>,
  options?: EffectStepOptions<A, E>,
): Effect.Effect<A, E, R | WorkflowCtx> => WorkflowCtx.use((ctx) => ctx.step(name, body, options))

/** `ctx.sleep` of the running workflow. */
export const sleep = (duration: DurationInput): Effect.Effect<void, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.sleep(duration))

/** `ctx.sleepUntil` of the running workflow. */
export const sleepUntil = (until: Date | number): Effect.Effect<void, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.sleepUntil(until))

/** `ctx.now` of the running workflow: the current time, recorded. */
export const now: Effect.Effect<Date, never, WorkflowCtx> = WorkflowCtx.use((ctx) => ctx.now)

/** `ctx.random` of the running workflow: a number in [0, 1), recorded. */
export const random: Effect.Effect<number, never, WorkflowCtx> = WorkflowCtx.use((ctx) => ctx.random)

/** `ctx.uuid` of the running workflow: a random UUID, recorded. */
export const uuid: Effect.Effect<string, never, WorkflowCtx> = WorkflowCtx.use((ctx) => ctx.uuid)

/** `ctx.send` of the running workflow: a message to a workflow, sent once across replays. */
export const send = <A = unknown>(
  workflowId: string,
  topic: TopicRef<A>,
  message: A,
): Effect.Effect<void, WorkflowNotFound, WorkflowCtx> => WorkflowCtx.use((ctx) => ctx.send(workflowId, topic, message))

/** `ctx.recv` of the running workflow: the next message on `topic` (with options: `Option.none()` on timeout). */
export function recv<A = unknown>(topic: TopicRef<A>): Effect.Effect<A, never, WorkflowCtx>
export function recv<A = unknown>(
  topic: TopicRef<A>,
  options: RecvOptions,
): Effect.Effect<Option.Option<A>, never, WorkflowCtx>
export function recv<A>(
  topic: TopicRef<A>,
  options?: RecvOptions,
): Effect.Effect<A | Option.Option<A>, never, WorkflowCtx> {
  return WorkflowCtx.use((ctx): Effect.Effect<A | Option.Option<A>> =>
    options === undefined ? ctx.recv(topic) : ctx.recv(topic, options),
  )
}

/** `ctx.setEvent` of the running workflow. */
export const setEvent = (key: string, value: unknown): Effect.Effect<void, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.setEvent(key, value))

/** `ctx.getEvent` of the running workflow: `Option.none()` on timeout or if the workflow ended without it. */
export const getEvent = <A = unknown>(
  workflowId: string,
  key: string,
  options?: GetEventOptions,
): Effect.Effect<Option.Option<A>, WorkflowNotFound, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.getEvent<A>(workflowId, key, options))

/** `ctx.writeStream` of the running workflow (also inside a step body). */
export const writeStream = (key: string, value: unknown): Effect.Effect<void, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.writeStream(key, value))

/** `ctx.closeStream` of the running workflow. */
export const closeStream = (key: string): Effect.Effect<void, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.closeStream(key))

/** The running workflow's id. */
export const workflowId: Effect.Effect<string, never, WorkflowCtx> = WorkflowCtx.useSync((ctx) => ctx.workflowId)

type LogFn = (message: string, fields?: Record<string, unknown>) => Effect.Effect<void, never, WorkflowCtx>
const logAt =
  (level: "debug" | "info" | "warn" | "error"): LogFn =>
  (message, fields) =>
    WorkflowCtx.useSync((ctx) => ctx.log[level](message, fields))

/** `ctx.log` of the running workflow, as Effects: `yield* Workflow.log.info("charged", { amount })`. */
export const log: { readonly debug: LogFn; readonly info: LogFn; readonly warn: LogFn; readonly error: LogFn } = {
  debug: logAt("debug"),
  info: logAt("info"),
  warn: logAt("warn"),
  error: logAt("error"),
}

/** `ctx.patched(name)` of the running workflow: true on the patch's new path (recorded), false on older replays. */
export const patched = (name: string): Effect.Effect<boolean, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.patched(name))

/**
 * `ctx.deprecatePatch(name)` of the running workflow: the patch's new path is the only one left; replays of
 * histories recorded with the patch and without it both pass.
 */
export const deprecatePatch = (name: string): Effect.Effect<void, never, WorkflowCtx> =>
  WorkflowCtx.use((ctx) => ctx.deprecatePatch(name))
