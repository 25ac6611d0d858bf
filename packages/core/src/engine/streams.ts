/**
 * Streams: ordered values a workflow publishes under a key, for readers anywhere (`durably.readStream`).
 * From workflow code each `ctx.writeStream` / `ctx.closeStream` is an operation whose checkpoint is written
 * with the entry. Inside a step body the writes of the running attempt are buffered and published with the
 * step's done checkpoint, so a failed or interrupted attempt publishes nothing and a replay never writes twice.
 */
import { Effect } from "effect"
import { InvalidContextUse, StreamClosedError, WorkflowNotFound } from "../errors.ts"
import type { Checkpoint, Store, StreamEntry } from "../store/Store.ts"
import { maxInt32, validateInteger, validateName } from "../validation.ts"
import type { Execution, OperationResult, StepScope } from "./Execution.ts"
import { revive } from "./revive.ts"
import type { Host } from "./Host.ts"
import { encodeArgument } from "./payload.ts"
import { hasEnded, waitFor } from "./waiting.ts"

/** Options of `durably.readStream`. */
export interface ReadStreamOptions {
  /** The offset of the first value to read (0 is the first value written). Default 0. */
  readonly from?: number
}

/** Values read per store call. */
const pageSize = 100

/** appendStream, with a closed stream as a value (the workflow's mistake) rather than a failure (the store's). */
const append = (store: Store, id: string, epoch: number, entries: ReadonlyArray<StreamEntry>, cp: Checkpoint) =>
  store
    .appendStream(id, epoch, entries, cp)
    .pipe(Effect.catchTag("StreamClosedError", (closed) => Effect.succeed<StreamClosedError>(closed)))

/**
 * `ctx.writeStream` / `ctx.closeStream`. From workflow code (`scope` undefined): an operation. Inside a step
 * body (`scope`, the running attempt's): buffered for the step's done checkpoint.
 */
export const writeStream = async (
  exec: Execution,
  entry: { readonly key: string; readonly value: unknown } | { readonly key: string; readonly close: true },
  scope: StepScope | undefined,
): Promise<void> => {
  const close = "close" in entry
  const call = close ? "closeStream" : "writeStream"
  validateName(entry.key, `ctx.${call}: the key`)
  const what = `stream ${JSON.stringify(entry.key)} value`
  const stored: StreamEntry = close
    ? { key: entry.key, close: true }
    : { key: entry.key, value: encodeArgument(entry.value, undefined, what, exec.payload) }
  if (scope) return buffer(exec, call, stored, scope)
  const outcome = await exec.operation<void>(call, entry.key, {}, async (_stepId, _pending, prepare) => {
    const checkpoint = prepare({})
    const written = await exec.commit((epoch) => append(exec.host.store, exec.id, epoch, [stored], checkpoint))
    if (written instanceof StreamClosedError)
      return { error: exec.encodeError(written, undefined, `${call} "${entry.key}"`) }
    return { committed: written }
  })
  if (!outcome.ok) throw revive(outcome.error, [StreamClosedError])
}

const buffer = (exec: Execution, call: string, entry: StreamEntry, scope: StepScope): void => {
  const stream = scope.stream
  if (!stream || scope.workflowId !== exec.id)
    throw new InvalidContextUse({
      reason: `ctx.${call}() was called inside "${scope.step}" of workflow ${scope.workflowId}, which cannot publish stream values: call it from the workflow function or from a ctx.step body of this workflow`,
    })
  if (!stream.open)
    throw new InvalidContextUse({
      reason: `ctx.${call}() was called after the attempt of step "${scope.step}" ended (it timed out, or the body left work running): nothing it writes now can be published`,
    })
  if (stream.entries.some((e) => e.key === entry.key && "close" in e))
    throw new StreamClosedError({ workflowId: exec.id, key: entry.key })
  stream.entries.push(entry)
}

/**
 * Publish what a step's successful attempt wrote, with the step's done checkpoint. If a stream it wrote to was
 * closed meanwhile, the step fails with StreamClosedError instead (recorded, so replay fails the same way).
 */
export const publishStep = async (
  exec: Execution,
  entries: ReadonlyArray<StreamEntry>,
  checkpoint: Checkpoint,
  step: string,
): Promise<OperationResult | { readonly committed: Checkpoint }> => {
  const written = await exec.commit((epoch) => append(exec.host.store, exec.id, epoch, entries, checkpoint))
  if (!(written instanceof StreamClosedError)) return { committed: written }
  return {
    error: exec.encodeError(written, undefined, `step "${step}"`),
    attempts: checkpoint.attempts,
    ...(checkpoint.attemptErrors === undefined ? {} : { attemptErrors: checkpoint.attemptErrors }),
  }
}

/**
 * `durably.readStream`: the values of a stream in order, from `options.from`, waiting for more until the
 * stream is closed or the workflow ends. Each iteration reads afresh; breaking out of the loop stops waiting.
 */
export const readStream = <A>(
  host: Host,
  workflowId: string,
  key: string,
  options: ReadStreamOptions = {},
): AsyncIterable<A> => {
  validateName(workflowId, "durably.readStream: the workflow id")
  validateName(key, "durably.readStream: the key")
  const from = options.from ?? 0
  // Offsets are kept in an integer column.
  validateInteger(from, "durably.readStream: from (an offset)", 0, maxInt32)
  return { [Symbol.asyncIterator]: () => reader<A>(host, workflowId, key, from) }
}

const reader = <A>(host: Host, workflowId: string, key: string, from: number): AsyncIterator<A, undefined> => {
  let offset = from
  const pending: string[] = []
  /** The stream has no value after the pending ones. */
  let ending = false
  let finished = false
  const stop = new AbortController()

  const take = (values: ReadonlyArray<{ readonly offset: number; readonly value: string }>) => {
    for (const v of values) pending.push(v.value)
    const last = values[values.length - 1]
    if (last) offset = last.offset + 1
  }
  /** Reads what is there; true when there is something to hand out (values, or the end). */
  const look = async (): Promise<true | undefined> => {
    const read = await host.storeCall(host.store.readStream(workflowId, key, offset, pageSize))
    take(read.values)
    if (read.closed) ending = true
    if (read.values.length > 0 || ending) return true
    const record = await host.storeCall(host.store.getWorkflow(workflowId))
    if (!record) throw new WorkflowNotFound({ workflowId })
    if (!hasEnded(record.status)) return undefined
    // Values written just before the end are there by now.
    const last = await host.storeCall(host.store.readStream(workflowId, key, offset, pageSize))
    take(last.values)
    if (last.closed || last.values.length < pageSize) ending = true
    return true
  }
  const end = (): IteratorResult<A, undefined> => {
    finished = true
    stop.abort()
    return { done: true, value: undefined }
  }

  return {
    next: async () => {
      if (finished) return { done: true, value: undefined }
      if (pending.length === 0 && !ending) {
        try {
          await waitFor({
            host,
            wakes: [
              { kind: "stream", workflowId, key },
              { kind: "status", workflowId },
            ],
            check: look,
            signal: AbortSignal.any([stop.signal, host.stopSignal]),
          })
        } catch (e) {
          if (stop.signal.aborted) return end()
          finished = true
          throw e
        }
      }
      const text = pending.shift()
      if (text === undefined) return end()
      return { done: false, value: host.serializer.decode(text) as A }
    },
    return: () => Promise.resolve(end()),
  }
}
