/**
 * The management API, implemented once over the Management port: the engine, a client and the test kit
 * all expose this object (the Effect flavour wraps it, see effect.ts). It validates arguments, calls the
 * port, revives stored values, and tells its host what changed so a local execution can stop or start.
 */
import { toMillis } from "../duration.ts"
import type { Effect } from "effect"
import { DuplicateEnqueue, InvalidArgument, WorkflowNotFound, type StoreError } from "../errors.ts"
import { uuidv7 } from "../ids.ts"
import { validateUserId } from "../engine/ids.ts"
import { describeValue, maxInt32, validateName } from "../validation.ts"
import { decodeError, decodeValue, encodeArgument, type PayloadContext } from "../engine/payload.ts"
import type { Serializer } from "../serialization/Serializer.ts"
import type { Management, StoredHistory, StoredWorkflow } from "../store/Management.ts"
import type { WorkflowRecord, WorkflowStatus } from "../store/Store.ts"
import type { AnyWorkflow } from "../workflow.ts"
import { encodeCursor, listRequest, storedFilter } from "./filter.ts"
import type {
  ExecutorInfo,
  ManagementApi,
  QueueInfo,
  StepRecord,
  WorkflowDetail,
  WorkflowSummary,
  WorkflowsApi,
} from "./types.ts"

/** What the API needs from the engine or client that exposes it. */
export interface ManagementHost {
  readonly management: Management
  readonly serializer: Serializer
  readonly maxPayloadBytes: number
  /** Run a port call (retrying transient store failures). */
  readonly call: <A>(effect: Effect.Effect<A, StoreError>) => Promise<A>
  /** The definition of a workflow, when this host has its code (its schemas revive values). */
  readonly definition: (name: string) => AnyWorkflow | undefined
  readonly now: () => number
  /** The version this host runs, if it runs workflows: its PENDING workflows are not stranded. */
  readonly ownVersion: string | undefined
  /** The app version a fork runs under when none is given. */
  readonly forkVersion: (source: StoredWorkflow) => string
  /** These workflows were cancelled: stop them if they run here. */
  readonly cancelled: (records: ReadonlyArray<WorkflowRecord>) => void
  /** This workflow may run now (resumed or forked): run it here if this host can. */
  readonly runnable: (record: WorkflowRecord) => Promise<void>
}

/** Bulk operations work through matches in pages of this many. */
const bulkPage = 500
const finishedStatuses: ReadonlyArray<WorkflowStatus> = ["SUCCESS", "ERROR", "CANCELLED", "DEAD"]

export const makeManagementApi = (host: ManagementHost): ManagementApi => {
  const m = host.management
  const payload = (r: { readonly id: string; readonly name: string }): PayloadContext => ({
    serializer: host.serializer,
    maxPayloadBytes: host.maxPayloadBytes,
    workflowId: r.id,
    workflowName: r.name,
  })
  const schemas = (name: string) => host.definition(name)?.schemas

  // A value that no longer decodes (its schema changed since) is shown as stored rather than failing the listing.
  const revive = (text: string, r: StoredWorkflow, what: "input" | "output") => {
    try {
      return decodeValue(text, schemas(r.name)?.[what], what, payload(r))
    } catch {
      return host.serializer.decode(text)
    }
  }
  const reviveError = (text: string, r: { readonly id: string; readonly name: string }) =>
    decodeError(text, schemas(r.name)?.error, payload(r))

  const date = (ms: number | undefined) => (ms === undefined ? {} : new Date(ms))
  const opt = <K extends string, V>(key: K, v: V | undefined) =>
    (v === undefined ? {} : { [key]: v }) as Partial<Record<K, V>>

  const summary = (r: StoredWorkflow): WorkflowSummary => ({
    id: r.id,
    name: r.name,
    status: r.status,
    createdAt: new Date(r.createdAt),
    updatedAt: new Date(r.updatedAt),
    appVersion: r.appVersion,
    recoveryAttempts: r.recoveryAttempts,
    ...opt("completedAt", r.completedAt === undefined ? undefined : (date(r.completedAt) as Date)),
    ...opt("executorId", r.executorId),
    ...opt("deadline", r.deadline === undefined ? undefined : (date(r.deadline) as Date)),
    ...opt("cancelReason", r.cancelReason),
    ...opt("queue", r.queue),
    ...opt("partitionKey", r.partitionKey),
    ...opt("parentId", r.parentId),
    ...(r.input === undefined ? {} : { input: revive(r.input, r, "input") }),
    ...(r.output === undefined ? {} : { output: revive(r.output, r, "output") }),
    ...(r.error === undefined ? {} : { error: reviveError(r.error, r) }),
  })

  const detail = (r: StoredWorkflow): WorkflowDetail => ({
    ...summary(r),
    input: r.input === undefined ? undefined : revive(r.input, r, "input"),
    priority: r.priority,
    epoch: r.epoch,
    ...opt("parentStep", r.parentStep),
    ...opt("deduplicationId", r.deduplicationId),
    ...opt("delayUntil", r.delayUntil === undefined ? undefined : new Date(r.delayUntil)),
    ...opt("timeoutMs", r.timeoutMs),
    ...opt("startedAt", r.startedAt === undefined ? undefined : new Date(r.startedAt)),
    ...opt("forkedFrom", r.forkedFrom),
  })

  const found = async (api: string, id: unknown): Promise<StoredWorkflow> => {
    validateName(id, `${api}: id`)
    const r = await host.call(m.get(id as string))
    if (!r) throw new WorkflowNotFound({ workflowId: id as string })
    return r
  }

  const stepRecords = (r: StoredWorkflow, h: StoredHistory): StepRecord[] => {
    const p = payload(r)
    const plain = (text: string) => {
      try {
        return host.serializer.decode(text)
      } catch {
        return text
      }
    }
    return h.checkpoints.map((cp) => {
      // A debounce's output is the run's id as JSON text, whatever the serializer (engine/debounce.ts).
      const output =
        cp.output === undefined
          ? undefined
          : cp.kind === "debounce"
            ? (JSON.parse(cp.output) as string)
            : plain(cp.output)
      const isChild = cp.kind === "start" || cp.kind === "enqueue"
      return {
        stepId: cp.stepId,
        name: cp.name,
        kind: cp.kind,
        state: cp.state,
        attempts: cp.attempts,
        attemptErrors:
          cp.attemptErrors === undefined
            ? []
            : // a JSON array of the attempts' serialized errors (see engine/operations.ts)
              (JSON.parse(cp.attemptErrors) as ReadonlyArray<string>).map((e) => decodeError(e, undefined, p)),
        startedAt: new Date(cp.startedAt),
        ...opt("completedAt", cp.completedAt === undefined ? undefined : new Date(cp.completedAt)),
        ...opt("wakeAt", cp.wakeAt === undefined ? undefined : new Date(cp.wakeAt)),
        ...opt("output", output),
        ...opt("error", cp.error === undefined ? undefined : decodeError(cp.error, undefined, p)),
        ...opt("childId", isChild && typeof output === "string" ? output : cp.kind === "result" ? cp.name : undefined),
        events: h.events.filter((e) => e.stepId === cp.stepId).map((e) => ({ key: e.key, value: plain(e.value) })),
        streamValues: h.streamValues
          .filter((v) => v.stepId === cp.stepId)
          .map((v) => ({ key: v.key, offset: v.offset, value: plain(v.value) })),
        streamsClosed: h.streamCloses.filter((c) => c.stepId === cp.stepId).map((c) => c.key),
      }
    })
  }

  /** Every id matching a filter, page by page (oldest first, so ids created meanwhile come last or not at all). */
  const eachMatch = async (api: string, filter: unknown, apply: (ids: string[]) => Promise<void>) => {
    const f = storedFilter(api, filter as never)
    let after: { createdAt: number; id: string } | undefined
    for (;;) {
      const rows = await host.call(
        m.list(f, {
          limit: bulkPage,
          order: "asc",
          includeInput: false,
          includeOutput: false,
          ...(after ? { after } : {}),
        }),
      )
      if (rows.length > 0) await apply(rows.map((r) => r.id))
      if (rows.length < bulkPage) return
      const last = rows[rows.length - 1]!
      after = { createdAt: last.createdAt, id: last.id }
    }
  }

  const cancelIds = async (ids: ReadonlyArray<string>, children: boolean) => {
    const changed = await host.call(m.cancel(ids, { children }))
    host.cancelled(changed)
    return changed
  }

  const resumeOne = async (api: string, id: string, appVersion: string | undefined, strict: boolean) => {
    const result = await host.call(m.resume(id, appVersion === undefined ? {} : { appVersion }))
    if (result._tag === "NotFound") {
      if (strict) throw new WorkflowNotFound({ workflowId: id })
      return false
    }
    if (result._tag === "NotResumable") {
      if (!strict) return false
      throw new InvalidArgument({
        reason:
          result.status === "SUCCESS"
            ? `${api}: workflow ${id} succeeded; there is nothing to resume (fork it to run it again)`
            : `${api}: workflow ${id} is ${result.status}, not CANCELLED, ERROR or DEAD; give appVersion to move a PENDING workflow stranded on another version`,
      })
    }
    if (result._tag === "DeduplicationTaken") {
      if (!strict) return false
      const { queue, deduplicationId, existingId } = result
      throw new DuplicateEnqueue({ queue, deduplicationId, existingId, resumedId: id })
    }
    await host.runnable(result.record)
    return true
  }

  const booleanOption = (api: string, o: unknown, key: string, fallback: boolean): boolean => {
    if (o === undefined) return fallback
    if (typeof o !== "object" || o === null) throw new InvalidArgument({ reason: `${api}: options must be an object` })
    const v = (o as Record<string, unknown>)[key]
    if (v === undefined) return fallback
    if (typeof v !== "boolean") throw new InvalidArgument({ reason: `${api}: ${key} must be true or false` })
    return v
  }
  const versionOption = (api: string, o: { readonly appVersion?: unknown } | undefined) => {
    const v = o?.appVersion
    if (v !== undefined) validateName(v, `${api}: appVersion`)
    return v as string | undefined
  }

  const workflows: WorkflowsApi = {
    list: async (options) => {
      const req = listRequest("workflows.list", options)
      const rows = await host.call(
        m.list(req.filter, {
          limit: req.limit,
          order: req.order,
          includeInput: req.includeInput,
          includeOutput: req.includeOutput,
          ...(req.after ? { after: req.after } : {}),
        }),
      )
      const last = rows[rows.length - 1]
      return {
        workflows: rows.map(summary),
        ...(last && rows.length === req.limit ? { nextCursor: encodeCursor(req.key, last) } : {}),
      }
    },
    count: async (filter) => host.call(m.count(storedFilter("workflows.count", filter))),
    get: async (id) => detail(await found("workflows.get", id)),
    steps: async (id) => {
      const r = await found("workflows.steps", id)
      return stepRecords(r, await host.call(m.history(id)))
    },
    cancel: async (id, options) => {
      const children = booleanOption("workflows.cancel", options, "children", true)
      validateName(id, "workflows.cancel: id")
      // One round trip when it cancels something; a second only to tell "finished" from "no such workflow".
      const changed = await cancelIds([id], children)
      if (!changed.some((r) => r.id === id)) await found("workflows.cancel", id)
    },
    cancelMany: async (filter, options) => {
      const children = booleanOption("workflows.cancelMany", options, "children", true)
      const ids: string[] = []
      await eachMatch("workflows.cancelMany", filter, async (page) => {
        for (const r of await cancelIds(page, children)) if (page.includes(r.id)) ids.push(r.id)
      })
      return { ids }
    },
    resume: async (id, options) => {
      // Checked before the store sees it: Postgres would read a lone surrogate as U+FFFD and resume another workflow.
      validateName(id, "workflows.resume: id")
      const appVersion = versionOption("workflows.resume", options)
      await resumeOne("workflows.resume", id, appVersion, true)
    },
    resumeMany: async (filter, options) => {
      const appVersion = versionOption("workflows.resumeMany", options)
      const ids: string[] = []
      await eachMatch("workflows.resumeMany", filter, async (page) => {
        for (const id of page) if (await resumeOne("workflows.resumeMany", id, appVersion, false)) ids.push(id)
      })
      return { ids }
    },
    fork: async (id, options) => {
      const api = "workflows.fork"
      if (typeof options !== "object" || options === null)
        throw new InvalidArgument({ reason: `${api}: options with fromStep are required` })
      const source = await found(api, id)
      const newId = options.id ?? uuidv7(host.now())
      if (options.id !== undefined) validateUserId(options.id, `${api}: id`)
      const appVersion = versionOption(api, options) ?? host.forkVersion(source)
      if (options.queue !== undefined) validateName(options.queue, `${api}: queue`)
      let fromStep: number
      if (typeof options.fromStep === "string") {
        const history = await host.call(m.history(source.id))
        const step = history.checkpoints.find((cp) => cp.name === options.fromStep)
        if (!step)
          throw new InvalidArgument({
            reason: `${api}: fromStep ${describeValue(options.fromStep)}: workflow ${source.id} has no step of that name (see workflows.steps)`,
          })
        fromStep = step.stepId
      } else if (Number.isInteger(options.fromStep) && options.fromStep >= 0 && options.fromStep <= maxInt32)
        fromStep = options.fromStep
      else
        throw new InvalidArgument({
          reason: `${api}: fromStep must be a step id (a whole number ≥ 0) or a step name; got ${describeValue(options.fromStep)}`,
        })
      const input =
        options.input === undefined
          ? undefined
          : encodeArgument(
              options.input,
              schemas(source.name)?.input,
              "fork input",
              payload({ id: newId, name: source.name }),
            )
      const result = await host.call(
        m.fork({
          sourceId: source.id,
          fromStep,
          id: newId,
          appVersion,
          ...(options.queue === undefined ? {} : { queue: options.queue }),
          ...(input === undefined ? {} : { input }),
        }),
      )
      switch (result._tag) {
        case "NotFound":
          throw new WorkflowNotFound({ workflowId: source.id })
        case "NoSuchStep":
          throw new InvalidArgument({
            reason: `${api}: fromStep ${fromStep}: workflow ${source.id} has no step ${fromStep} (${result.lastStep < 0 ? "it has no steps: fork from 0" : `its steps are 0 to ${result.lastStep}`})`,
          })
        case "IdTaken":
          throw new InvalidArgument({ reason: `${api}: id ${JSON.stringify(newId)} is taken by another workflow` })
      }
      await host.runnable(result.record)
      return newId
    },
    delete: async (id, options) => {
      const children = booleanOption("workflows.delete", options, "children", true)
      const r = await found("workflows.delete", id)
      if (!finishedStatuses.includes(r.status))
        throw new InvalidArgument({
          reason: `workflows.delete: workflow ${r.id} is ${r.status}; cancel it first (only finished workflows are deleted)`,
        })
      await host.call(m.delete([r.id], { children }))
    },
    prune: async (options) => {
      const api = "workflows.prune"
      if (typeof options !== "object" || options === null || options.olderThan === undefined)
        throw new InvalidArgument({ reason: `${api}: olderThan is required (for example { olderThan: "30 days" })` })
      const olderThan = toMillis(options.olderThan, `${api}: olderThan`)
      const status = storedFilter(api, { ...(options.status === undefined ? {} : { status: options.status }) })
        .status ?? ["SUCCESS", "ERROR", "CANCELLED"]
      for (const s of status)
        if (!finishedStatuses.includes(s))
          throw new InvalidArgument({
            reason: `${api}: status ${s} is not a finished status (${finishedStatuses.join(", ")})`,
          })
      const batchSize = options.batchSize ?? 1000
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000)
        throw new InvalidArgument({ reason: `${api}: batchSize must be a whole number from 1 to 100000` })
      return prune(host, { before: host.now() - olderThan, status, limit: batchSize, exclusive: false })
    },
    stranded: async () => (await host.call(m.stranded())).filter((s) => s.appVersion !== host.ownVersion),
  }

  return {
    workflows,
    queues: {
      list: async () =>
        (await host.call(m.queues())).map((q): QueueInfo => ({
          name: q.queue,
          enqueued: q.enqueued,
          delayed: q.delayed,
          running: q.running,
          ...opt("partitionKey", q.partitionKey),
          ...opt("settings", q.config),
        })),
    },
    executors: {
      list: async () =>
        (await host.call(m.executors())).map((e): ExecutorInfo => ({
          executorId: e.executorId,
          appVersion: e.appVersion,
          lastHeartbeat: new Date(e.heartbeatAt),
          alive: e.alive,
          workflowsOwned: e.owned,
        })),
    },
  }
}

/**
 * Prune in batches until a batch comes back short; resolves with how many were deleted. With `exclusive`,
 * stops at once (0) when another executor is pruning.
 */
export const prune = async (
  host: Pick<ManagementHost, "management" | "call">,
  options: { before: number; status: ReadonlyArray<WorkflowStatus>; limit: number; exclusive: boolean },
): Promise<number> => {
  let total = 0
  for (;;) {
    const n = await host.call(host.management.prune(options))
    if (n === undefined) return total
    total += n
    if (n < options.limit) return total
  }
}
