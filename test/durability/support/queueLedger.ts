/**
 * The queue ledger: one row per run of a task's step body, inserted by the body when it starts and stamped
 * when it finishes (Date.now() in the worker process; every process is on this machine, one clock). A body
 * killed mid-run leaves its row unfinished. Also the test's view of the queue's workflows.
 */
import type { Sql } from "./db.ts"
import { waitFor } from "./wait.ts"

const ident = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain identifier: ${name}`)
  return name
}

/** Create `schema.queue_ledger` (and the schema); returns its qualified name. */
export const createQueueLedger = async (sql: Sql, schema: string): Promise<string> => {
  const table = `${ident(schema)}.queue_ledger`
  await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`)
  await sql.unsafe(`CREATE TABLE ${table} (
    id            bigserial PRIMARY KEY,
    queue         text NOT NULL,
    task          text NOT NULL,
    seq           integer NOT NULL,
    step          integer NOT NULL,
    executor      text NOT NULL,
    pid           integer NOT NULL,
    partition_key text,
    priority      integer,
    attempt       integer NOT NULL,
    started_ms    bigint NOT NULL,
    finished_ms   bigint,
    inserted_at   timestamptz NOT NULL DEFAULT clock_timestamp())`)
  return table
}

export interface QueueLedgerRow {
  readonly id: number
  readonly task: string
  readonly seq: number
  readonly step: number
  readonly executor: string
  readonly pid: number
  readonly partition: string | undefined
  readonly priority: number | undefined
  readonly attempt: number
  /** Date.now() in the worker when the body started. */
  readonly startedMs: number
  /** Date.now() in the worker when the body finished; undefined if it never did (killed). */
  readonly finishedMs: number | undefined
  /** The database's clock when the body inserted the row. */
  readonly insertedAt: Date
}

export const readQueueLedger = async (sql: Sql, table: string, queue: string): Promise<QueueLedgerRow[]> =>
  (await sql.unsafe(`SELECT * FROM ${table} WHERE queue = $1 ORDER BY id`, [queue])).map((r) => ({
    id: Number(r["id"]),
    task: r["task"] as string,
    seq: Number(r["seq"]),
    step: Number(r["step"]),
    executor: r["executor"] as string,
    pid: Number(r["pid"]),
    partition: (r["partition_key"] as string | null) ?? undefined,
    priority: r["priority"] === null ? undefined : Number(r["priority"]),
    attempt: Number(r["attempt"]),
    startedMs: Number(r["started_ms"]),
    finishedMs: r["finished_ms"] === null ? undefined : Number(r["finished_ms"]),
    insertedAt: r["inserted_at"] as Date,
  }))

/** The checkpointed result of every step of the queue's workflows: which ledger row each step kept. */
export const readStepRows = async (
  sql: Sql,
  schema: string,
  ids: ReadonlyArray<string>,
): Promise<Array<{ readonly task: string; readonly stepId: number; readonly row: number; readonly state: string }>> =>
  (
    await sql.unsafe(
      `SELECT workflow_id, step_id, state, output FROM ${ident(schema)}.steps WHERE workflow_id = ANY($1::text[])`,
      [[...ids]],
    )
  ).map((r) => ({
    task: r["workflow_id"] as string,
    stepId: Number(r["step_id"]),
    state: r["state"] as string,
    row: r["output"] === null ? -1 : (JSON.parse(r["output"] as string) as { row: number }).row,
  }))

/** How many of the queue's workflows are in each status. */
export const queueStatusCounts = async (sql: Sql, schema: string, queue: string): Promise<Record<string, number>> =>
  Object.fromEntries(
    (
      await sql.unsafe(
        `SELECT status, count(*)::int AS n FROM ${ident(schema)}.workflows WHERE queue = $1 GROUP BY status`,
        [queue],
      )
    ).map((r) => [r["status"] as string, Number(r["n"])]),
  )

/**
 * Wait until all `total` workflows of the queue are SUCCESS; fail at once if one ends otherwise (ERROR,
 * CANCELLED, DEAD), and after `timeoutMs` with the status counts.
 */
export const waitQueueDrained = async (
  sql: Sql,
  schema: string,
  queue: string,
  total: number,
  options: { readonly timeoutMs?: number; readonly context?: () => string } = {},
): Promise<void> => {
  const detail = async () =>
    `statuses ${JSON.stringify(await queueStatusCounts(sql, schema, queue))}${options.context?.() ?? ""}`
  await waitFor(
    `all ${total} workflows of queue ${queue} to be SUCCESS`,
    async () => {
      const counts = await queueStatusCounts(sql, schema, queue)
      const bad = Object.keys(counts).filter((s) => !["ENQUEUED", "DELAYED", "PENDING", "SUCCESS"].includes(s))
      if (bad.length > 0) throw new Error(`workflows of ${queue} ended other than SUCCESS: ${await detail()}`)
      return counts["SUCCESS"] === total
    },
    { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 50, detail },
  )
}
