import type { QueueConfig } from "../store/queueTypes.ts"

const window = (rate: { readonly limit: number; readonly periodMs: number }) =>
  `${rate.limit} starts / ${rate.periodMs} ms`

/**
 * A queue's stored limits as one line for people ("concurrency 4, per partition 1"), as the CLI's table and
 * the dashboard show them; "no limits" when none is set.
 */
export const describeQueueLimits = (settings: QueueConfig | undefined): string => {
  if (!settings) return ""
  const parts: string[] = []
  if (settings.concurrency !== undefined) parts.push(`concurrency ${settings.concurrency}`)
  if (settings.workerConcurrency !== undefined) parts.push(`per worker ${settings.workerConcurrency}`)
  if (settings.rateLimit) parts.push(window(settings.rateLimit))
  if (settings.partition?.concurrency !== undefined) parts.push(`per partition ${settings.partition.concurrency}`)
  if (settings.partition?.rateLimit) parts.push(`per partition ${window(settings.partition.rateLimit)}`)
  if (settings.maxLength !== undefined) parts.push(`max length ${settings.maxLength}`)
  if (settings.priority) parts.push("priorities")
  return parts.length ? parts.join(", ") : "no limits"
}
