/**
 * The OpenTelemetry observer: a span per execution of a workflow (a child of the span that was active where
 * the workflow was created, in whichever process that was), a span per live operation (each step attempt,
 * sleep, wait, child start …) inside it, a span for the time a queued workflow waited, and metrics.
 */
import {
  context,
  createNoopMeter,
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type MeterProvider,
  type Span,
  type TracerProvider,
} from "@opentelemetry/api"
import {
  describeError,
  type EngineEvent,
  type ExecutionEndInfo,
  type ExecutionInfo,
  type ExecutionObserver,
  type Observer,
  type OperationEndInfo,
  type OperationInfo,
  type OperationObserver,
  type TraceParent,
} from "@durably/core"
import { captureActive, contextOf, parseCarried } from "./carrier.ts"
import { instruments, observeQueueDepth, type Instruments } from "./metrics.ts"

export interface OpenTelemetryOptions {
  /** Where spans go. Default: the global tracer provider (`trace.setGlobalTracerProvider`, or the Node SDK). */
  readonly tracerProvider?: TracerProvider
  /** Where metrics go. Default: the global meter provider. */
  readonly meterProvider?: MeterProvider
  /** Record spans. Default true. */
  readonly traces?: boolean
  /** Record metrics. Default true. */
  readonly metrics?: boolean
  /** Report the depth of every queue (a gauge read from the store at each collection). Default true. */
  readonly queueDepth?: boolean
}

const scope = "@durably/otel"

/** Names and attribute keys, in one place (OpenTelemetry has no workflow conventions yet: ours are durably.*). */
export const attr = {
  workflowId: "durably.workflow.id",
  workflowName: "durably.workflow.name",
  status: "durably.workflow.status",
  stopReason: "durably.workflow.stop_reason",
  origin: "durably.execution.origin",
  recoveryAttempts: "durably.workflow.recovery_attempts",
  recordedSteps: "durably.workflow.recorded_steps",
  parentId: "durably.workflow.parent_id",
  executorId: "durably.executor.id",
  appVersion: "durably.app.version",
  stepName: "durably.step.name",
  stepId: "durably.step.id",
  stepKind: "durably.step.kind",
  attempt: "durably.step.attempt",
  outcome: "durably.step.outcome",
  retryInMs: "durably.step.retry_in_ms",
  queue: "messaging.destination.name",
  linkKind: "durably.link.kind",
} as const

/** `Durably.launch({ observers: [openTelemetry()] })`: traces and metrics through `@opentelemetry/api`. */
export const openTelemetry = (options: OpenTelemetryOptions = {}): Observer => {
  const tracer = options.traces === false ? undefined : (options.tracerProvider ?? trace).getTracer(scope)
  const meter = options.metrics === false ? undefined : (options.meterProvider ?? metrics).getMeter(scope)
  const made = meter ? instruments(meter) : undefined
  // No meter provider registered (the API's no-op meter): skip the per-step timing and attribute objects too.
  const m = made && made.started === createNoopMeter().createCounter("durably.probe") ? undefined : made
  return {
    ...(tracer ? { carry: captureActive } : {}),
    execution: (info) => {
      const parent = contextOf(parseCarried(info.carried))
      const startedAt = performance.now()
      const named = { [attr.workflowName]: info.workflowName }
      m?.started.add(1, { ...named, [attr.origin]: info.origin })
      if (info.queuedMs !== undefined && info.queue !== undefined)
        m?.queueWait.record(info.queuedMs / 1000, { ...named, [attr.queue]: info.queue })
      if (!tracer) return metricsOnly(info, m, startedAt)
      if (info.queuedMs !== undefined && info.queue !== undefined)
        tracer
          .startSpan(
            `queue ${info.queue}`,
            {
              kind: SpanKind.INTERNAL,
              startTime: Date.now() - info.queuedMs,
              attributes: { ...named, [attr.workflowId]: info.workflowId, [attr.queue]: info.queue },
            },
            parent,
          )
          .end()
      const span = tracer.startSpan(
        `workflow ${info.workflowName}`,
        {
          kind: info.queue === undefined ? SpanKind.INTERNAL : SpanKind.CONSUMER,
          attributes: executionAttributes(info),
        },
        parent,
      )
      const active = trace.setSpan(parent, span)
      // No SDK, or a trace sampled out: the span records nothing, and neither would its children, so none are
      // made (a step then costs what it costs without tracing). The context still flows, so children started
      // here carry the caller's trace on to processes that do record it.
      const recording = span.isRecording()
      const sc = span.spanContext()
      // No SDK and no trace to carry on (whoever created the workflow had none): nothing to record and nothing
      // to propagate, so the execution is not watched at all.
      if (!recording && m === undefined && !trace.isSpanContextValid(sc)) return undefined
      return {
        run: (fn) => context.with(active, fn),
        ...(recording
          ? { traceParent: { traceId: sc.traceId, spanId: sc.spanId, sampled: (sc.traceFlags & 1) === 1 } }
          : {}),
        operation: recording
          ? (op) =>
              spanned(op)
                ? operation(
                    tracer.startSpan(spanName(op), { attributes: operationAttributes(op) }, active),
                    op,
                    info,
                    m,
                  )
                : undefined
          : (op) => (m && op.attempt !== undefined ? operation(undefined, op, info, m) : undefined),
        end: (end) => {
          endExecution(span, end)
          recordEnd(m, info, end, startedAt)
        },
      }
    },
    event: (e) => recordEvent(m, e),
    ...(m && meter && options.queueDepth !== false
      ? { launched: (engine) => observeQueueDepth(meter, engine, attr.queue) }
      : {}),
  }
}

const metricsOnly = (
  info: ExecutionInfo,
  m: Instruments | undefined,
  startedAt: number,
): ExecutionObserver | undefined =>
  m && {
    operation: (op) => (op.attempt !== undefined ? operation(undefined, op, info, m) : undefined),
    end: (end) => recordEnd(m, info, end, startedAt),
  }

/**
 * A span per step attempt and per live operation that waits or reaches out (sleep, recv, child start …); none
 * for replayed results, for a step as a whole (its attempts are the spans), or for recorded values (now,
 * random, uuid: not worth one).
 */
const spanned = (op: OperationInfo): boolean =>
  op.replayed !== true &&
  (op.kind === "step" ? op.attempt !== undefined : op.kind !== "now" && op.kind !== "random" && op.kind !== "uuid")

// A result's name is the child's id: too varied for a span name, so it is an attribute only.
const spanName = (op: OperationInfo) =>
  op.kind === "result" ? "child result" : op.name === op.kind ? op.kind : `${op.kind} ${op.name}`

// Built in place, not by spreading optional parts: these run once per execution and per step attempt.
const executionAttributes = (info: ExecutionInfo): Attributes => {
  const a: Attributes = {
    [attr.workflowId]: info.workflowId,
    [attr.workflowName]: info.workflowName,
    [attr.executorId]: info.executorId,
    [attr.appVersion]: info.appVersion,
    [attr.origin]: info.origin,
  }
  if (info.recoveryAttempts > 0) a[attr.recoveryAttempts] = info.recoveryAttempts
  if (info.recordedSteps > 0) a[attr.recordedSteps] = info.recordedSteps
  if (info.parentId !== undefined) a[attr.parentId] = info.parentId
  if (info.queue !== undefined) {
    a[attr.queue] = info.queue
    a["messaging.system"] = "durably"
  }
  return a
}

const operationAttributes = (op: OperationInfo): Attributes => {
  const a: Attributes = { [attr.stepName]: op.name, [attr.stepId]: op.stepId, [attr.stepKind]: op.kind }
  if (op.attempt !== undefined) a[attr.attempt] = op.attempt
  return a
}

/** Stopping (a crash, a shutdown, a parked sleep, a fence) is not the operation's failure. */
const stopped = (e: unknown): string | undefined =>
  e instanceof Error && e.name === "ExecutionStopped" ? ((e as { reason?: string }).reason ?? "stopped") : undefined

const operation = (
  span: Span | undefined,
  op: OperationInfo,
  info: ExecutionInfo,
  m: Instruments | undefined,
): OperationObserver =>
  span ? new AttemptSpan(span, trace.setSpan(context.active(), span), op, info, m) : new AttemptMetrics(op, info, m)

/**
 * An operation's metrics, and its span when traced. Classes rather than object literals of closures: one of
 * these is made per step attempt, on the hot path, and a prototype's methods cost nothing per instance.
 */
class AttemptMetrics implements OperationObserver {
  readonly startedAt = performance.now()
  readonly op: OperationInfo
  readonly info: ExecutionInfo
  readonly m: Instruments | undefined
  constructor(op: OperationInfo, info: ExecutionInfo, m: Instruments | undefined) {
    this.op = op
    this.info = info
    this.m = m
  }
  end(end: OperationEndInfo): void {
    const halted = end.error === undefined ? undefined : stopped(end.error)
    this.endSpan(end, halted)
    const m = this.m
    if (m === undefined || this.op.attempt === undefined || halted) return
    const outcome = end.error === undefined ? "ok" : end.retryInMs === undefined ? "error" : "retry"
    const seconds = (performance.now() - this.startedAt) / 1000
    // Measured in the attempt's context (its span, when traced), which the API lets a measurement carry.
    const labels = { [attr.workflowName]: this.info.workflowName, [attr.stepName]: this.op.name }
    m.stepDuration.record(seconds, { ...labels, [attr.outcome]: outcome }, this.measuredIn())
    if (outcome === "retry") m.stepRetries.add(1, labels, this.measuredIn())
  }
  protected endSpan(_end: OperationEndInfo, _halted: string | undefined): void {}
  protected measuredIn(): Context {
    return context.active()
  }
}

class AttemptSpan extends AttemptMetrics {
  readonly span: Span
  readonly active: Context
  constructor(span: Span, active: Context, op: OperationInfo, info: ExecutionInfo, m: Instruments | undefined) {
    super(op, info, m)
    this.span = span
    this.active = active
  }
  run<A>(fn: () => A): A {
    return context.with(this.active, fn)
  }
  // Read only by the Effect flavour's step bodies.
  get traceParent(): TraceParent {
    const sc = this.span.spanContext()
    return { traceId: sc.traceId, spanId: sc.spanId, sampled: (sc.traceFlags & 1) === 1 }
  }
  protected override endSpan(end: OperationEndInfo, halted: string | undefined): void {
    const span = this.span
    if (halted) span.setAttribute(attr.stopReason, halted)
    else if (end.error !== undefined) failSpan(span, end.error)
    // A recv links to where its message was sent (OpenTelemetry's messaging convention: the consumer has its
    // own parent, and a link to the producer), in whichever process or trace that was.
    const sent = parseCarried(end.carried)
    if (sent) span.addLink({ context: sent, attributes: { [attr.linkKind]: "message" } })
    if (end.retryInMs !== undefined) {
      span.setAttribute(attr.retryInMs, end.retryInMs)
      span.addEvent("retry scheduled", { [attr.retryInMs]: end.retryInMs })
    }
    span.end()
  }
  protected override measuredIn(): Context {
    return this.active
  }
}

const failSpan = (span: Span, error: unknown) => {
  const { errorName, errorMessage } = describeError(error)
  // An error's message may quote user data: it is recorded as OpenTelemetry's exception conventions ask,
  // and redacted (if at all) by the SDK's processors, like any other instrumentation's.
  span.recordException(error instanceof Error ? error : { name: errorName, message: errorMessage })
  span.setStatus({ code: SpanStatusCode.ERROR, message: `${errorName}: ${errorMessage}` })
}

const endExecution = (span: Span, end: ExecutionEndInfo) => {
  span.setAttribute(attr.status, end.status)
  if (end.status === "ERROR" || end.status === "FAILED") failSpan(span, end.error)
  else if (end.status === "CANCELLED" || end.status === "STOPPED") span.setAttribute(attr.stopReason, end.reason)
  span.end()
}

const recordEnd = (m: Instruments | undefined, info: ExecutionInfo, end: ExecutionEndInfo, startedAt: number) => {
  if (!m) return
  const labels = { [attr.workflowName]: info.workflowName, [attr.status]: end.status }
  m.ended.add(1, labels)
  m.duration.record((performance.now() - startedAt) / 1000, labels)
  if (end.status === "STOPPED" && end.reason === "fenced") m.fenced.add(1, { [attr.workflowName]: info.workflowName })
}

const recordEvent = (m: Instruments | undefined, e: EngineEvent) => {
  if (!m) return
  const labels = { [attr.executorId]: e.executorId, [attr.appVersion]: e.appVersion }
  if (e.type === "recovered") m.recoveries.add(e.count, labels)
  else if (e.type === "takenOver") m.takeovers.add(e.count, labels)
  else if (e.type === "dead") m.dead.add(1, { ...labels, [attr.workflowName]: e.workflowName })
}
