/**
 * Debouncing at the Store port: calls with one key collapse into one queued workflow on the reserved
 * `@debounce` queue, DELAYED until `delay` after the last call (or `maxWait` after the first). The store
 * does it in one atomic operation, so calls racing from many processes still make one run per burst.
 */
import type { Effect } from "effect"
import type { FencedError, StoreError } from "../errors.ts"
import type { Checkpoint } from "./Store.ts"

/** The queue debounced runs wait on; its name is in the engine's reserved form, so no user queue has it. */
export const debounceQueue = "@debounce"

export interface DebounceRequest {
  /** The id the run gets if this call starts a new burst. */
  readonly id: string
  /** The workflow's name. */
  readonly name: string
  /** Calls with the same workflow and key collapse. */
  readonly key: string
  /** Serialized input: the latest call's wins. */
  readonly input: string
  readonly appVersion: string
  /** The run starts this long after the last call… */
  readonly delayMs: number
  /** …or this long after the burst's first call, whichever comes first. */
  readonly maxWaitMs?: number
}

export interface DebounceResult {
  /** The run that will happen: the waiting one this call joined, or the new one. */
  readonly id: string
  readonly created: boolean
}

export interface DebounceStore {
  /**
   * Join the waiting (not yet started) run of (name, key) — its input replaced, its start moved to
   * `now + delayMs` but never past its first call's `maxWaitMs` — or, when none waits, put a new one on the
   * `@debounce` queue, DELAYED for `min(delayMs, maxWaitMs)`. Wakes the queue.
   */
  readonly debounce: (request: DebounceRequest) => Effect.Effect<DebounceResult, StoreError>
  /**
   * `ctx.debounce`: `debounce(request)` and the caller's done checkpoint, epoch-checked, in one go, so the
   * call and its record commit together (a replay never repeats a call that committed). The checkpoint is
   * stored with the run's id as its output, as JSON text (`JSON.stringify(id)`: the engine reads it with a
   * schema, not the serializer). A done checkpoint already at that step is returned as it stands and nothing
   * is debounced (a retried write whose reply was lost). Fails with `FencedError`, nothing debounced, when the
   * caller's epoch moved on or it is not PENDING.
   */
  readonly debounceFromWorkflow: (
    caller: string,
    epoch: number,
    request: DebounceRequest,
    checkpoint: Checkpoint,
  ) => Effect.Effect<Checkpoint, FencedError | StoreError>
}
