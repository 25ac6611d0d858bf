/**
 * Durably's metrics, for dashboards and alerts: workflows started and ended (by name and status), execution
 * and step durations, step retries, time waited on a queue, recoveries, takeovers, DEAD workflows and fenced
 * writes, and the depth of each queue (a gauge). Durations are in seconds, as OpenTelemetry's conventions ask.
 */
import type { Counter, Histogram, Meter, ObservableResult } from "@opentelemetry/api"
import type { LaunchedEngine } from "@durably/core"

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

/**
 * `durably.queue.depth`: workflows on each queue, by state (enqueued: ready to be claimed; delayed: not due
 * yet; running), read from the store at each collection. Every executor reports the same store-wide
 * numbers: aggregate them with max or last, not sum.
 */
export const observeQueueDepth = (meter: Meter, engine: LaunchedEngine, queueAttr: string): (() => void) => {
  const gauge = meter.createObservableGauge("durably.queue.depth", {
    description: "Workflows on a queue, by durably.queue.state (enqueued, delayed, running), store-wide",
    unit: "{workflow}",
  })
  const collect = async (result: ObservableResult) => {
    let queues
    try {
      queues = await engine.queues.list()
    } catch {
      return // the store is unreachable: no reading this time, rather than a wrong one
    }
    const totals = new Map<string, { enqueued: number; delayed: number; running: number }>()
    for (const q of queues) {
      const t = totals.get(q.name) ?? { enqueued: 0, delayed: 0, running: 0 }
      t.enqueued += q.enqueued
      t.delayed += q.delayed
      t.running += q.running
      totals.set(q.name, t)
    }
    for (const [name, t] of totals)
      for (const state of ["enqueued", "delayed", "running"] as const)
        result.observe(t[state], { [queueAttr]: name, "durably.queue.state": state })
  }
  gauge.addCallback(collect)
  return () => gauge.removeCallback(collect)
}
