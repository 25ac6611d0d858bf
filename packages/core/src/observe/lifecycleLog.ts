/**
 * Lifecycle logs: the observer that turns what happens to workflows into log entries a user can act on.
 * Payloads (inputs, outputs) are left out unless `payloads` is set; error names and messages are kept, since
 * a failure without them cannot be acted on (a `redact` hook on the logging options can still rewrite them).
 */
import type { LogEntry, LogLevel, LogSink } from "../engine/log.ts"
import type { EngineEvent, ExecutionInfo, ExecutionObserver, Observer, OperationObserver } from "./Observer.ts"

/** What the lifecycle entries are; `LogEntry.event` carries one of these. */
export type LifecycleEventName =
  | "workflow.started"
  | "workflow.completed"
  | "workflow.failed"
  | "workflow.cancelled"
  | "workflow.timedOut"
  | "workflow.fenced"
  | "workflow.dead"
  | "step.retrying"
  | "executor.recovered"
  | "executor.tookOver"
  | "store.failing"
  | "store.recovered"

export interface LifecycleLogOptions {
  /** Log workflow inputs and outputs too (they may hold personal data). Default false. */
  readonly payloads?: boolean
}

/** Error name and message of anything thrown, without its payload fields. */
export const describeError = (error: unknown): { readonly errorName: string; readonly errorMessage: string } => {
  if (typeof error === "object" && error !== null) {
    const e = error as { name?: unknown; _tag?: unknown; message?: unknown }
    const name =
      typeof e.name === "string" && e.name !== "Error" ? e.name : typeof e._tag === "string" ? e._tag : "Error"
    return { errorName: name, errorMessage: typeof e.message === "string" ? e.message : safeText(error) }
  }
  return { errorName: typeof error, errorMessage: String(error) }
}

export const lifecycleLog = (sink: LogSink, options: LifecycleLogOptions = {}): Observer => {
  const payloads = options.payloads === true
  const emit = (
    level: LogLevel,
    event: LifecycleEventName,
    message: string,
    about: { readonly workflowId?: string; readonly workflowName?: string; readonly step?: string },
    fields: Record<string, unknown>,
  ) => sink({ level, event, message, ...about, fields } satisfies LogEntry)

  // One object for every step attempt: only a retry is worth a line, and the seam is on the per-step path.
  const attemptObserver = (info: ExecutionInfo, step: string, attempt: number): OperationObserver => ({
    end: (end) => {
      if (end.retryInMs === undefined) return
      emit(
        "info",
        "step.retrying",
        `step attempt ${attempt} failed; retrying in ${end.retryInMs} ms`,
        { workflowId: info.workflowId, workflowName: info.workflowName, step },
        { ...base(info), attempt, retryInMs: end.retryInMs, ...describeError(end.error) },
      )
    },
  })

  const execution = (info: ExecutionInfo): ExecutionObserver => {
    const about = { workflowId: info.workflowId, workflowName: info.workflowName }
    emit(
      "debug",
      "workflow.started",
      info.recordedSteps > 0 || info.recoveryAttempts > 0 ? "workflow resumed" : "workflow started",
      about,
      {
        ...base(info),
        origin: info.origin,
        ...(info.recoveryAttempts > 0 ? { recoveryAttempts: info.recoveryAttempts } : {}),
        ...(info.recordedSteps > 0 ? { recordedSteps: info.recordedSteps } : {}),
        ...(info.queue === undefined ? {} : { queue: info.queue }),
        ...(info.queuedMs === undefined ? {} : { queuedMs: info.queuedMs }),
        ...(info.parentId === undefined ? {} : { parentId: info.parentId }),
        ...(payloads ? { input: info.input } : {}),
      },
    )
    return {
      // Step attempts only: a retry is logged where an attempt fails.
      operation: (op) => (op.attempt !== undefined ? attemptObserver(info, op.name, op.attempt) : undefined),
      end: (end) => {
        switch (end.status) {
          case "SUCCESS":
            return emit("debug", "workflow.completed", "workflow completed", about, {
              ...base(info),
              ...(payloads ? { output: end.output } : {}),
            })
          case "ERROR": {
            const e = describeError(end.error)
            return emit("warn", "workflow.failed", `workflow failed: ${e.errorName}: ${e.errorMessage}`, about, {
              ...base(info),
              ...e,
            })
          }
          case "CANCELLED":
            return end.reason === "timeout"
              ? emit("info", "workflow.timedOut", "workflow timed out", about, base(info))
              : emit("info", "workflow.cancelled", "workflow cancelled", about, base(info))
          case "STOPPED":
            if (end.reason !== "fenced") return
            return emit(
              "warn",
              "workflow.fenced",
              "a write was refused: another executor has taken this workflow over, so its execution here stops",
              about,
              base(info),
            )
          case "FAILED":
            return
        }
      },
    }
  }

  const event = (e: EngineEvent) => {
    const exec = { executorId: e.executorId, appVersion: e.appVersion }
    switch (e.type) {
      case "recovered":
        return emit("info", "executor.recovered", `recovered ${e.count} workflows`, {}, { ...exec, count: e.count })
      case "takenOver":
        return emit(
          "info",
          "executor.tookOver",
          `took over ${e.count} workflows from executors whose lease expired`,
          {},
          { ...exec, count: e.count },
        )
      case "storeFailing":
        return emit(
          "warn",
          "store.failing",
          `store calls have failed for ${Math.round(e.failingForMs / 1000)} s and are retried until they succeed; nothing is lost, but nothing progresses meanwhile`,
          {},
          { ...exec, operation: e.operation, failingForMs: e.failingForMs, ...describeError(e.error) },
        )
      case "storeRecovered":
        return emit(
          "info",
          "store.recovered",
          `store calls succeed again after ${Math.round(e.failedForMs / 1000)} s`,
          {},
          { ...exec, operation: e.operation, failedForMs: e.failedForMs },
        )
      case "dead":
        return emit(
          "error",
          "workflow.dead",
          `workflow marked DEAD after ${e.recoveryAttempts} recoveries without progress; resume it once the cause is fixed`,
          { workflowId: e.workflowId, workflowName: e.workflowName },
          { ...exec, recoveryAttempts: e.recoveryAttempts },
        )
    }
  }

  return { execution, event }
}

const base = (info: ExecutionInfo) => ({ executorId: info.executorId, appVersion: info.appVersion })

const safeText = (value: object): string => {
  try {
    return JSON.stringify(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}
