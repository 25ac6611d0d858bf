/**
 * @durably/core/effect — durable workflows as Effect programs, on the same engine as the Promise API.
 *
 * ```ts
 * const charge = defineWorkflow({ name: "charge", input: Order, output: Receipt, error: PaymentDeclined, run: (ctx, order) =>
 *   Effect.gen(function* () {
 *     const receipt = yield* ctx.step("charge", chargeCard(order), { retry: Schedule.exponential("1 second").pipe(Schedule.upTo({ times: 4 })) })
 *     const approval = yield* ctx.recv("approval", { timeout: "1 hour" }) // Option<A>: None on timeout
 *     yield* ctx.sleep("1 day")
 *     return receipt
 *   }) })
 * const program = Effect.gen(function* () {
 *   const durably = yield* Durably
 *   const handle = yield* durably.start(charge, order)
 *   return yield* handle.result // Effect<Receipt, PaymentDeclined | WorkflowFailed | WorkflowCancelled | …>
 * }).pipe(Effect.provide(Durably.layer({ store: memoryStore(), workflows: [charge] })))
 * ```
 */
export { defineWorkflow, type EffectWorkflowOptions } from "./effect/defineWorkflow.ts"
export { Durably, type DurablyService } from "./effect/Durably.ts"
export type { EnqueueError, ReadError, SendError, StartError } from "./effect/errors.ts"
export type { MessagingService } from "./effect/messaging.ts"
export type { AwaitError, DeclaredError, EffectHandle, EndError } from "./effect/handle.ts"
export { WorkflowCtx, type EffectStepOptions, type EffectWorkflowContext, type StepBody } from "./effect/WorkflowCtx.ts"
export * as Workflow from "./effect/Workflow.ts"
export type { Effectful, ManagementError, ManagementService } from "./management/effect.ts"
export type { ClientService } from "./effect/client.ts"
export type { ClientOptions, DurablyClient, WorkflowRef } from "./client.ts"
export type { ScheduleError, SchedulesService } from "./schedules/effect.ts"
export type { ScheduledRun, ScheduleOptions } from "./schedules/define.ts"
export type { ScheduleInfo, ScheduleUpdate } from "./schedules/api.ts"
export type { DebounceOptions } from "./engine/debounce.ts"
export type {
  BulkResult,
  CancelOptions,
  DeleteOptions,
  ExecutorInfo,
  ExecutorsApi,
  ForkOptions,
  Instant,
  ListOptions,
  ManagementApi,
  PruneOptions,
  QueueInfo,
  QueuesApi,
  ResumeOptions,
  StepRecord,
  StrandedVersion,
  WorkflowDetail,
  WorkflowFilter,
  WorkflowPage,
  WorkflowSummary,
  WorkflowsApi,
} from "./management/types.ts"

export type { LaunchOptions } from "./config.ts"
export type { StartOptions } from "./engine/Engine.ts"
export type { WorkflowHandle, WorkflowOutcome, WorkflowStatusInfo } from "./engine/handle.ts"
export { consoleLogger, type LogEntry, type LogLevel, type LogSink } from "./engine/log.ts"
export { effectLogSink } from "./effect/logger.ts"
export { structuredLogger, type StructuredLogger } from "./observe/structuredLogger.ts"
export {
  describeError,
  lifecycleLog,
  type LifecycleEventName,
  type LifecycleLogOptions,
} from "./observe/lifecycleLog.ts"
export type * from "./observe/Observer.ts"
export type {
  AnyWorkflow,
  Codec,
  ErrorOf,
  InputOf,
  OutputOf,
  RetryPolicy,
  ServicesOf,
  StepInfo,
  WorkflowDefinition,
  WorkflowLogger,
} from "./workflow.ts"
export type { DurationInput } from "./duration.ts"
export { defineTopic, type Topic, type TopicRef } from "./topics.ts"
export type { SendOptions, RecvOptions } from "./engine/messages.ts"
export type { GetEventOptions } from "./engine/events.ts"
export type { ReadStreamOptions } from "./engine/streams.ts"
export * from "./errors.ts"
export { memoryStore } from "./store/memory.ts"
export type { Store, WorkflowStatus } from "./store/Store.ts"
export type { Serializer } from "./serialization/Serializer.ts"
export { jsonSerializer } from "./serialization/json.ts"
