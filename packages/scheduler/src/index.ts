/**
 * @durably/scheduler — durable queues with flow control, and cron schedules.
 *
 * ```ts
 * export const emails = defineQueue("emails", { concurrency: 20, rateLimit: { limit: 100, period: "1 minute" } })
 * const durably = await Durably.launch({ store, workflows: [sendEmail], queues: [emails] })
 * await durably.enqueue(emails, sendEmail, { to: "ada@example.com" })
 *
 * export const nightly = defineSchedule("nightly-report", { cron: "0 2 * * *", timezone: "Europe/Paris", workflow: report })
 * await Durably.launch({ store, workflows: [report], schedules: [nightly] })
 * ```
 */
import {
  queueConfig,
  scheduleDefinition,
  type AnyWorkflow,
  type QueueDefinition,
  type QueueSettings,
  type ScheduleDefinition,
  type ScheduleOptions,
} from "@durably/core"
import { dispatchQueues } from "./dispatcher.ts"

export { relookMs } from "./dispatcher.ts"

export type {
  QueueDefinition,
  QueueSettings,
  RateLimit,
  ScheduleDefinition,
  ScheduleOptions,
  ScheduledRun,
  ScheduleInfo,
  Schedules,
  ScheduleUpdate,
  CatchUp,
} from "@durably/core"

/**
 * Define a queue: its name and its limits. Pass it to `Durably.launch({ queues })` in every process that
 * enqueues on it or serves it; the settings are stored at launch, and when two deploys disagree the last
 * one launched wins (a warning names the change).
 */
export const defineQueue = (name: string, settings: QueueSettings = {}): QueueDefinition =>
  Object.freeze({
    _tag: "QueueDefinition" as const,
    name,
    config: queueConfig(name, settings),
    dispatcher: dispatchQueues,
  })

/**
 * Define a schedule: each tick of `cron` (read in `timezone`, default UTC) starts `workflow` with
 * `{ scheduledAt, startedAt, input }`, exactly once across every worker. Pass it to `Durably.launch({ schedules })`
 * in the processes that should fire it (the ones that have the workflow). An invalid cron, an unknown zone or
 * a bad option throws InvalidArgument here, naming the field.
 */
export const defineSchedule = <W extends AnyWorkflow>(name: string, options: ScheduleOptions<W>): ScheduleDefinition =>
  scheduleDefinition(name, options)
