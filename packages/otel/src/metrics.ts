/**
 * Durably's metrics, for dashboards and alerts: workflows started and ended (by name and status), execution
 * and step durations, step retries, time waited on a queue, recoveries, takeovers, DEAD workflows and fenced
 * writes. Durations are in seconds, as OpenTelemetry's conventions ask.
 */
import type { Counter, Histogram, Meter } from "@opentelemetry/api"

export interface Instruments {
  readonly started: Counter
  readonly ended: Counter
  readonly duration: Histogram
  readonly stepDuration: Histogram
  readonly stepRetries: Counter
  readonly queueWait: Histogram
  readonly recoveries: Counter
  readonly takeovers: Counter
  readonly dead: Counter
  readonly fenced: Counter
}

export const instruments = (meter: Meter): Instruments => ({
  started: meter.createCounter("durably.workflow.started", {
    description: "Executions begun on this executor (first runs, recoveries, takeovers, queue claims, wake-ups)",
  }),
  ended: meter.createCounter("durably.workflow.ended", {
    description: "Executions ended on this executor, by durably.workflow.status",
  }),
  duration: meter.createHistogram("durably.workflow.duration", {
    description: "Wall time of one execution on this executor",
    unit: "s",
  }),
  stepDuration: meter.createHistogram("durably.step.duration", {
    description: "Wall time of one step attempt, by durably.step.outcome (ok, error, retry)",
    unit: "s",
  }),
  stepRetries: meter.createCounter("durably.step.retries", {
    description: "Step attempts that failed and will be retried",
  }),
  queueWait: meter.createHistogram("durably.queue.wait", {
    description: "Time from enqueue to claim, for a queued workflow's first execution",
    unit: "s",
  }),
  recoveries: meter.createCounter("durably.executor.recovered", {
    description: "Workflows this executor took back at launch (its own, or released ones)",
  }),
  takeovers: meter.createCounter("durably.executor.took_over", {
    description: "Workflows taken over from executors whose lease expired",
  }),
  dead: meter.createCounter("durably.workflow.dead", {
    description: "Workflows marked DEAD after too many recoveries without progress",
  }),
  fenced: meter.createCounter("durably.workflow.fenced", {
    description: "Executions stopped because another executor took their workflow over (a write was refused)",
  }),
})
