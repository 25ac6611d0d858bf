/**
 * `durably.debounce(workflow, key, input, { delay, maxWait })`: calls with one key collapse into one run with
 * the latest input, started `delay` after the last call or `maxWait` after the first. The run waits on the
 * reserved `@debounce` queue (store/debounceTypes.ts); this module validates the call and asks the store,
 * and `debounceDispatch` starts the runs when they are due.
 */
import { Effect } from "effect"
import { toMillis, type DurationInput } from "../duration.ts"
import { InvalidArgument } from "../errors.ts"
import { uuidv7 } from "../ids.ts"
import { debounceQueue } from "../store/debounceTypes.ts"
import { isWorkflowDefinition, validateName, type AnyWorkflow } from "../workflow.ts"
import type { Host } from "./Host.ts"
import { reservedIdPrefix } from "./ids.ts"
import { encodeValue } from "./payload.ts"

export interface DebounceOptions {
  /** The run starts this long after the last call with its key. */
  readonly delay: DurationInput
  /** …but no later than this long after the first call of the burst. Default: no limit. */
  readonly maxWait?: DurationInput
}

/** Ask the store to join or start the key's waiting run; resolves with its id. */
export const debounceWorkflow = async (
  host: Host,
  appVersion: string,
  workflow: AnyWorkflow,
  key: string,
  input: unknown,
  options: DebounceOptions,
  api = "durably.debounce",
): Promise<string> => {
  if (!isWorkflowDefinition(workflow))
    throw new InvalidArgument({ reason: `${api}: the workflow must be a definition made by defineWorkflow` })
  validateName(key, `${api}: key`)
  if (typeof options !== "object" || options === null || options.delay === undefined)
    throw new InvalidArgument({ reason: `${api}: options must give a delay, e.g. { delay: "1 minute" }` })
  const delayMs = toMillis(options.delay, `${api}: delay`)
  const maxWaitMs = options.maxWait === undefined ? undefined : toMillis(options.maxWait, `${api}: maxWait`)
  const now = host.clock.currentTimeMillisUnsafe()
  const id = `${reservedIdPrefix}debounce:${workflow.name}:${key}:${uuidv7(now)}`
  const payload = {
    serializer: host.serializer,
    maxPayloadBytes: host.maxPayloadBytes,
    workflowId: id,
    workflowName: workflow.name,
  }
  const result = await host.storeCall(
    host.store.debounce({
      id,
      name: workflow.name,
      key,
      input: encodeValue(input, workflow.schemas.input, "input", payload),
      appVersion,
      delayMs,
      ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
    }),
  )
  return result.id
}

export interface DebounceDispatchHost {
  readonly subscribe: (listener: () => void) => () => void
  readonly claim: (max: number) => Promise<{ readonly started: number; readonly retryAt?: number }>
  readonly room: () => number
  readonly now: () => number
  readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>
  readonly log: Host["log"]
}

/**
 * Starts debounced runs when they are due: claims from `@debounce` when woken (a call, from any process)
 * and at the instant the claim says the next one is due (one timer). Core cannot use the scheduler's queue
 * dispatcher, and this queue has no limits, only delays, so this is all it needs. A failed claim is retried
 * after a second.
 */
export const debounceDispatch = (host: DebounceDispatchHost): { readonly stop: () => Promise<void> } => {
  const stopping = new AbortController()
  let timer: AbortController | undefined
  let timerAt: number | undefined
  let claiming: Promise<void> | undefined
  let again = false

  const arm = (at: number) => {
    if (stopping.signal.aborted || (timerAt !== undefined && timerAt <= at)) return
    timer?.abort()
    const mine = new AbortController()
    timer = mine
    timerAt = at
    host.sleep(Math.max(1, at - host.now()), AbortSignal.any([mine.signal, stopping.signal])).then(
      () => {
        if (timer !== mine) return
        timer = undefined
        timerAt = undefined
        wake()
      },
      () => undefined,
    )
  }

  const claimAll = async () => {
    do {
      again = false
      const room = Math.min(100, host.room())
      if (room <= 0) return arm(host.now() + 1000)
      try {
        const { started, retryAt } = await host.claim(room)
        if (retryAt !== undefined) arm(retryAt)
        if (started >= room) again = true
      } catch (e) {
        host.log({ level: "warn", message: `debounced runs: claiming failed (${String(e)}); trying again in 1 s` })
        return arm(host.now() + 1000)
      }
    } while (again && !stopping.signal.aborted)
  }

  const wake = () => {
    if (stopping.signal.aborted) return
    if (claiming) {
      again = true
      return
    }
    claiming = claimAll().finally(() => {
      claiming = undefined
      if (again) wake()
    })
  }

  const unsubscribe = host.subscribe(wake)
  wake()
  return {
    stop: async () => {
      stopping.abort()
      unsubscribe()
      timer?.abort()
      await claiming
    },
  }
}

/** The dispatch of debounced runs in an engine (see Engine.launch). */
export const startDebounceDispatch = (engine: {
  readonly host: Host
  readonly room: number
  readonly claimQueued: (queue: string, max: number) => Promise<{ readonly started: number; readonly retryAt?: number }>
}) =>
  debounceDispatch({
    subscribe: (l) => engine.host.store.subscribe({ kind: "queue", queue: debounceQueue }, l),
    claim: (max) => engine.claimQueued(debounceQueue, max),
    room: () => engine.room,
    now: () => engine.host.clock.currentTimeMillisUnsafe(),
    sleep: (ms, signal) => engine.host.runEffect(Effect.sleep(Math.max(0, ms)), signal),
    log: engine.host.log,
  })
