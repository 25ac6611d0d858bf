/** Where step bodies run: the AsyncLocalStorage that tells `ctx` it is called from inside one. */
import { AsyncLocalStorage } from "node:async_hooks"
import type { OperationObserver } from "../observe/Observer.ts"
import type { StreamEntry } from "../store/Store.ts"

/** What one attempt of a step body writes to streams: published with the step's result if the attempt succeeds. */
export interface StepStreamBuffer {
  readonly entries: StreamEntry[]
  /** False once the attempt is over: late writes (from a timed-out body, say) are refused. */
  open: boolean
}

/**
 * Marks code running inside a step body, where `ctx` operations are not allowed (except `ctx.writeStream`,
 * `ctx.closeStream` and `ctx.log`). `stream` is the running attempt's stream buffer (absent in bodies that
 * cannot publish stream values, such as SQL transactions).
 */
export const stepScope = new AsyncLocalStorage<StepScope>()

/** The step body running: its workflow, its step, and (in a ctx.step attempt) the attempt's stream buffer. */
export interface StepScope {
  readonly workflowId: string
  readonly step: string
  readonly stream?: StepStreamBuffer
  /** The observers watching this attempt: the Effect flavour parents Effect's spans in the body on its span. */
  readonly observed?: OperationObserver | undefined
}
