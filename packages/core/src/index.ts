/**
 * @durably/core — durable workflows for TypeScript.
 *
 * ```ts
 * const checkout = defineWorkflow("checkout", async (ctx, order: Order) => {
 *   const receipt = await ctx.step("charge", ({ idempotencyKey }) => payments.charge(order, idempotencyKey))
 *   await ctx.sleep("1 day")
 *   return receipt
 * })
 * const durably = await Durably.launch({ store: memoryStore(), workflows: [checkout] })
 * const receipt = await durably.run(checkout, order)
 * ```
 */
export { Durably } from "./Durably.ts"
export type { ClientOptions, DurablyClient, WorkflowRef } from "./client.ts"
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
export { describeQueueLimits } from "./management/queueLimits.ts"
export type { LaunchOptions } from "./config.ts"
export type { StartOptions } from "./engine/Engine.ts"
export type { WorkflowHandle, WorkflowOutcome, WorkflowStatusInfo } from "./engine/handle.ts"
export { consoleLogger, type LogEntry, type LogLevel, type LogSink } from "./engine/log.ts"
export { structuredLogger, type StructuredLogger } from "./observe/structuredLogger.ts"
export {
  describeError,
  lifecycleLog,
  type LifecycleEventName,
  type LifecycleLogOptions,
} from "./observe/lifecycleLog.ts"
export type * from "./observe/Observer.ts"
export { defineWorkflow } from "./workflow.ts"
export { defineTopic, type Topic, type TopicRef } from "./topics.ts"
export type { SendOptions, RecvOptions } from "./engine/messages.ts"
export type { GetEventOptions } from "./engine/events.ts"
export type { ReadStreamOptions } from "./engine/streams.ts"
export type {
  AnyWorkflow,
  Codec,
  InputOf,
  OutputOf,
  RetryPolicy,
  StepInfo,
  StepOptions,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowLogger,
  WorkflowOptions,
} from "./workflow.ts"
export type { DurationInput } from "./duration.ts"
export type { EnqueueOptions, EnqueueManyOptions } from "./engine/enqueue.ts"
export type { ChildHandle, ChildOptions } from "./engine/children.ts"
export {
  queueConfig,
  isQueueDefinition,
  type QueueSettings,
  type QueueDefinition,
  type QueueRef,
  type RateLimit,
  type DispatchHost,
  type QueueClaimOutcome,
  type Dispatcher,
  type DispatcherFactory,
} from "./queues.ts"
export { scheduleDefinition, isScheduleDefinition } from "./schedules/define.ts"
export type { ScheduleDefinition, ScheduleOptions, ScheduledRun } from "./schedules/define.ts"
export type { Schedules, ScheduleInfo, ScheduleUpdate } from "./schedules/api.ts"
export type { DebounceOptions } from "./engine/debounce.ts"
export * from "./errors.ts"
export { memoryStore } from "./store/memory.ts"
export type * from "./store/Store.ts"
export { terminalStatuses, workflowStatuses } from "./store/Store.ts"
export type { Serializer } from "./serialization/Serializer.ts"
export { jsonSerializer } from "./serialization/json.ts"
export { uuidv7 } from "./ids.ts"
