/** The Management port on SQL (Postgres and PGlite), over the statements of managementQueries.ts. */
import type { Effect } from "effect"
import type {
  Management,
  QueueConfig,
  StoreError,
  StoredQueueStats,
  StoredWorkflow,
  Wake,
  WorkflowRecord,
} from "@durably/core"
import type { Row, SqlClient } from "./client.ts"
import { filterSql, makeManagementQueries, managementColumns } from "./managementQueries.ts"
import { toQueueConfig } from "./queueStore.ts"
import { cancelTree } from "./cancelTree.ts"
import { failureKind } from "./errors.ts"
import { toCheckpoint, toWorkflow } from "./rows.ts"

export interface ManagementDeps {
  readonly client: SqlClient
  readonly schema: string
  readonly channel: string | undefined
  readonly op: <A>(operation: string, run: (now: number) => Promise<A>) => Effect.Effect<A, StoreError>
  /** A committed write this process made (for subscribers here, when no notification will tell them). */
  readonly wrote: (wake: Wake, status?: string) => void
}

const num = (v: unknown) => Number(v)
const optNum = <K extends string>(key: K, v: unknown) =>
  (v === null || v === undefined ? {} : { [key]: Number(v) }) as { [P in K]?: number }

const toStored = (r: Row): StoredWorkflow => {
  const { input, output, error, ...base } = toWorkflow({ input: "", ...r })
  return {
    ...base,
    ...(r["input"] === undefined ? {} : { input }),
    ...(output === undefined ? {} : { output }),
    ...(error === undefined ? {} : { error }),
    priority: num(r["priority"] ?? 0),
    detached: r["detached"] === true,
    ...(r["deduplication_id"] == null ? {} : { deduplicationId: r["deduplication_id"] as string }),
    ...optNum("delayUntil", r["delay_until_ms"]),
    ...optNum("timeoutMs", r["timeout_ms"]),
    ...optNum("startedAt", r["started_ms"]),
    ...(r["forked_from"] == null ? {} : { forkedFrom: r["forked_from"] as string }),
  }
}

export const makeManagement = (deps: ManagementDeps): Management => {
  const { client, op } = deps
  const q = makeManagementQueries(deps.schema, deps.channel)
  const pruneLockKey = `${deps.schema}.prune`
  const changed = (record: WorkflowRecord, queueWoken: boolean) => {
    deps.wrote({ kind: "status", workflowId: record.id }, record.status)
    if (queueWoken && record.queue !== undefined) deps.wrote({ kind: "queue", queue: record.queue })
    return record
  }
  const listColumns = (includeInput: boolean, includeOutput: boolean) =>
    managementColumns
      .split(", ")
      .filter((c) => (includeInput || c !== "input") && (includeOutput || (c !== "output" && c !== "error")))
      .join(", ")

  return {
    list: (filter, page) =>
      op("workflows.list", async () => {
        const { where, params } = filterSql(filter)
        const next = params.length + 1
        const text = q.list(
          where,
          page.order,
          page.after !== undefined,
          next,
          listColumns(page.includeInput, page.includeOutput),
        )
        const rows = await client.query(text, [
          ...params,
          ...(page.after ? [page.after.createdAt, page.after.id] : []),
          page.limit,
        ])
        return rows.map(toStored)
      }),
    count: (filter) =>
      op("workflows.count", async () => {
        const { where, params } = filterSql(filter)
        const [row] = await client.query(q.count(where), params)
        return num(row?.["n"] ?? 0)
      }),
    get: (id) =>
      op("workflows.get", async () => {
        const [row] = await client.query(q.get, [id])
        return row ? toStored(row) : undefined
      }),
    history: (id) =>
      op("workflows.steps", async () => {
        // One connection, one snapshot: the four reads agree with each other.
        return client.transaction(async (tx) => {
          const steps = await tx.query(q.steps, [id])
          const events = await tx.query(q.eventHistory, [id])
          const values = await tx.query(q.streamValues, [id])
          const closes = await tx.query(q.streamCloses, [id])
          return {
            checkpoints: steps.map(toCheckpoint),
            events: events.map((r) => ({
              stepId: num(r["step_id"]),
              key: r["key"] as string,
              value: r["value"] as string,
            })),
            streamValues: values.map((r) => ({
              stepId: num(r["step_id"]),
              key: r["key"] as string,
              offset: num(r["stream_offset"]),
              value: r["value"] as string,
            })),
            streamCloses: closes.map((r) => ({ stepId: num(r["step_id"]), key: r["key"] as string })),
          }
        })
      }),
    cancel: (ids, options) =>
      op("workflows.cancel", async (now) => {
        const params = [[...ids], options.children, now]
        const rows = options.children
          ? await cancelTree(client, q.cancel, params)
          : await client.query(q.cancel, params)
        return rows.map((r) => changed(toWorkflow(r), true))
      }),
    resume: (id, options) =>
      op("workflows.resume", async (now) => {
        const resumed = await client.query(q.resume, [id, options.appVersion ?? null, now]).then(
          ([row]) => ({ row }),
          async (e: unknown) => {
            // Another active workflow of its queue took its deduplication id meanwhile (the unique index).
            if (failureKind(e) !== "unique-violation") throw e
            const [holder] = await client.query(q.deduplicationHolder, [id])
            if (!holder) throw e
            return { holder }
          },
        )
        if ("holder" in resumed)
          return {
            _tag: "DeduplicationTaken" as const,
            queue: resumed.holder["queue"] as string,
            deduplicationId: resumed.holder["deduplication_id"] as string,
            existingId: resumed.holder["id"] as string,
          }
        if (resumed.row) return { _tag: "Resumed" as const, record: changed(toWorkflow(resumed.row), true) }
        const [current] = await client.query(q.statusOf, [id])
        if (!current) return { _tag: "NotFound" as const }
        return { _tag: "NotResumable" as const, status: current["status"] as WorkflowRecord["status"] }
      }),
    fork: (request) =>
      op("workflows.fork", async (now) =>
        client.transaction(async (tx) => {
          const [source] = await tx.query(q.forkSource, [request.sourceId, request.fromStep])
          if (!source) return { _tag: "NotFound" as const }
          if (request.fromStep !== 0 && source["has_step"] !== true) {
            const last = source["last_step"]
            return { _tag: "NoSuchStep" as const, lastStep: last === null || last === undefined ? -1 : num(last) }
          }
          const [created] = await tx.query(q.forkWorkflow, [
            request.sourceId,
            request.id,
            request.input ?? null,
            request.appVersion ?? null,
            request.queue ?? null,
            now,
            request.fromStep,
          ])
          if (!created) return { _tag: "IdTaken" as const }
          const args = [request.sourceId, request.id, request.fromStep]
          await tx.query(q.forkSteps, args)
          await tx.query(q.forkEventHistory, args)
          await tx.query(q.forkEvents, [...args, now])
          await tx.query(q.forkStreamValues, args)
          await tx.query(q.forkStreams, args)
          const record = toWorkflow(created)
          if (record.queue !== undefined) deps.wrote({ kind: "queue", queue: record.queue })
          return { _tag: "Forked" as const, record }
        }),
      ),
    delete: (ids, options) =>
      op("workflows.delete", async () => {
        const [row] = await client.query(q.delete, [[...ids], options.children])
        return num(row?.["n"] ?? 0)
      }),
    prune: (options) =>
      op("workflows.prune", async () =>
        client.transaction(async (tx) => {
          if (options.exclusive) {
            const [lock] = await tx.query(q.pruneLock, [pruneLockKey])
            if (lock?.["locked"] !== true) return undefined
          }
          const [row] = await tx.query(q.prune, [[...options.status], options.before, options.limit])
          return num(row?.["n"] ?? 0)
        }),
      ),
    queues: () =>
      op("queues.list", async () => {
        const counts = await client.query(q.queueCounts)
        const settings = new Map<string, QueueConfig>(
          (await client.query(q.queueSettings)).map((r) => [r["name"] as string, toQueueConfig(r)]),
        )
        const out: StoredQueueStats[] = counts.map((r) => {
          const config = settings.get(r["queue"] as string)
          return {
            queue: r["queue"] as string,
            ...(r["partition_key"] == null ? {} : { partitionKey: r["partition_key"] as string }),
            enqueued: num(r["enqueued"]),
            delayed: num(r["delayed"]),
            running: num(r["running"]),
            ...(config ? { config } : {}),
          }
        })
        for (const [name, config] of settings)
          if (!out.some((s) => s.queue === name)) out.push({ queue: name, enqueued: 0, delayed: 0, running: 0, config })
        return out.sort(
          (a, b) =>
            (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0) ||
            ((a.partitionKey ?? "") < (b.partitionKey ?? "") ? -1 : 1),
        )
      }),
    executors: () =>
      op("executors.list", async () =>
        (await client.query(q.executors)).map((r) => ({
          executorId: r["id"] as string,
          appVersion: r["app_version"] as string,
          heartbeatAt: num(r["heartbeat_ms"]),
          leaseMs: num(r["lease_ms"]),
          alive: r["alive"] === true,
          owned: num(r["owned"]),
        })),
      ),
    stranded: () =>
      op("workflows.stranded", async () =>
        (await client.query(q.stranded)).map((r) => ({ appVersion: r["app_version"] as string, count: num(r["n"]) })),
      ),
  }
}
