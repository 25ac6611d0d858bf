/**
 * `durably.debounce(workflow, key, input, { delay, maxWait })`: calls with one key collapse into one run with
 * the latest input, started `delay` after the last call or `maxWait` after the first. The run waits on the
 * reserved `@debounce` queue (store/debounceTypes.ts); this module validates the call and asks the store
 * (`ctx.debounce` too, recorded), and `debounceDispatch` starts the runs when they are due.
 */
import { Effect, Schema } from "effect"
import { toMillis, type DurationInput } from "../duration.ts"
import { InvalidArgument } from "../errors.ts"
import { uuidv7 } from "../ids.ts"
import { debounceQueue, type DebounceRequest } from "../store/debounceTypes.ts"
import { isWorkflowDefinition, validateName, type AnyWorkflow } from "../workflow.ts"
import { childHandle, type ChildHandle } from "./children.ts"
import type { Execution } from "./Execution.ts"
import type { Host } from "./Host.ts"
import { reservedIdPrefix } from "./ids.ts"
import { encodeValue } from "./payload.ts"

export interface DebounceOptions {
  /** The run starts this long after the last call with its key. */
  readonly delay: DurationInput
  /** …but no later than this long after the first call of the burst. Default: no limit. */
  readonly maxWait?: DurationInput
}

/** Check a call (InvalidArgument naming `api` and the argument) and build the store's request. */
const debounceRequest = (
  host: Host,
  appVersion: string,
  workflow: unknown,
  key: string,
  input: unknown,
  options: unknown,
  api: string,
): DebounceRequest => {
  if (!isWorkflowDefinition(workflow))
    throw new InvalidArgument({ reason: `${api}: the workflow must be a definition made by defineWorkflow` })
  validateName(key, `${api}: key`)
  const o = options as Partial<DebounceOptions> | null
  if (typeof o !== "object" || o === null || o.delay === undefined)
    throw new InvalidArgument({ reason: `${api}: options must give a delay, e.g. { delay: "1 minute" }` })
  const delayMs = toMillis(o.delay, `${api}: delay`)
  const maxWaitMs = o.maxWait === undefined ? undefined : toMillis(o.maxWait, `${api}: maxWait`)
  const now = host.clock.currentTimeMillisUnsafe()
  const id = `${reservedIdPrefix}debounce:${workflow.name}:${key}:${uuidv7(now)}`
  const payload = {
    serializer: host.serializer,
    maxPayloadBytes: host.maxPayloadBytes,
    workflowId: id,
    workflowName: workflow.name,
  }
  return {
    id,
    name: workflow.name,
    key,
    input: encodeValue(input, workflow.schemas.input, "input", payload),
    appVersion,
    delayMs,
    ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
  }
}

/** `durably.debounce`: ask the store to join or start the key's waiting run; resolves with its id. */
export const debounceWorkflow = async (
  host: Host,
  appVersion: string,
  workflow: AnyWorkflow,
  key: string,
  input: unknown,
  options: DebounceOptions,
): Promise<string> => {
  const request = debounceRequest(host, appVersion, workflow, key, input, options, "durably.debounce")
  return (await host.storeCall(host.store.debounce(request))).id
}

/**
 * `ctx.debounce`: the same call from workflow code, recorded. The store joins or adds the run and writes this
 * operation's checkpoint (the run's id) in one go, so there is no window in which the call committed and its
 * record did not: a replay after a crash either finds the record and returns that run's handle without
 * calling the store, or finds nothing, because nothing was done, and makes the call then. The run is not a
 * child of the caller (every caller of the burst shares it): cancelling the caller leaves it be.
 */
export const debounceFromWorkflow = async <O>(
  exec: Execution,
  workflow: AnyWorkflow,
  key: string,
  input: unknown,
  options: DebounceOptions,
): Promise<ChildHandle<O>> => {
  exec.guard("debounce")
  // Checked and encoded before anything is recorded: a bad call fails and stores nothing.
  const request = debounceRequest(
    exec.host,
    exec.host.children.appVersion,
    workflow,
    key,
    input,
    options,
    "ctx.debounce",
  )
  const outcome = await exec.operation<string>(
    "debounce",
    `${workflow.name}:${key}`,
    { output: Schema.String },
    async (_stepId, _pending, prepare) => {
      const checkpoint = prepare({})
      const committed = await exec.commit((epoch) =>
        exec.host.store.debounceFromWorkflow(exec.id, epoch, request, checkpoint),
      )
      return { committed }
    },
  )
  if (!outcome.ok) throw outcome.error
  return childHandle<O>(exec, outcome.value)
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
