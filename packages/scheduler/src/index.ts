/**
 * @durably/scheduler — durable queues with flow control.
 *
 * ```ts
 * export const emails = defineQueue("emails", { concurrency: 20, rateLimit: { limit: 100, period: "1 minute" } })
 * const durably = await Durably.launch({ store, workflows: [sendEmail], queues: [emails] })
 * await durably.enqueue(emails, sendEmail, { to: "ada@example.com" })
 * ```
 */
import { queueConfig, type QueueDefinition, type QueueSettings } from "@durably/core"
import { dispatchQueues } from "./dispatcher.ts"

export { relookMs } from "./dispatcher.ts"

export type { QueueDefinition, QueueSettings, RateLimit } from "@durably/core"

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
