/** The test's own view of the database: the ledger, and the workflows and steps tables read directly. */
import postgres from "postgres"
import type { ChainOutput, StepResult } from "./chain.ts"
import { waitFor } from "./wait.ts"

export type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

export const connect = (url: string): Sql => postgres(url, { max: 2, onnotice: () => undefined })

const ident = (name: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain identifier: ${name}`)
  return name
}

/** Create `schema.ledger` (and the schema): one row per step body run, written by the body itself. */
export const createLedger = async (sql: Sql, schema: string): Promise<string> => {
  const table = `${ident(schema)}.ledger`
  await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`)
  await sql.unsafe(`CREATE TABLE ${table} (
    id          bigserial PRIMARY KEY,
    workflow_id text NOT NULL,
    step        text NOT NULL,
    step_index  integer NOT NULL,
    pid         integer NOT NULL,
    executor    text NOT NULL,
    attempt     integer NOT NULL,
    value       bigint NOT NULL,
    started_ms  bigint NOT NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp())`)
  return table
}

export interface LedgerRow {
  readonly id: number
  readonly workflowId: string
  readonly step: string
  readonly stepIndex: number
  readonly pid: number
  readonly executor: string
  readonly attempt: number
  readonly value: number
  /** Date.now() in the worker when the body started. */
  readonly startedMs: number
  /** The database's clock when the row was inserted. */
  readonly at: Date
}

export const readLedger = async (sql: Sql, table: string): Promise<LedgerRow[]> =>
  (await sql.unsafe(`SELECT * FROM ${table} ORDER BY id`)).map((r) => ({
    id: Number(r["id"]),
    workflowId: r["workflow_id"] as string,
    step: r["step"] as string,
    stepIndex: Number(r["step_index"]),
    pid: Number(r["pid"]),
    executor: r["executor"] as string,
    attempt: Number(r["attempt"]),
    value: Number(r["value"]),
    startedMs: Number(r["started_ms"]),
    at: r["at"] as Date,
  }))

export interface WorkflowRow {
  readonly id: string
  readonly status: string
  readonly output: ChainOutput | undefined
  readonly error: string | undefined
  readonly executorId: string | undefined
  readonly epoch: number
  readonly recoveryAttempts: number
}

const tableExists = async (sql: Sql, table: string) =>
  (await sql.unsafe(`SELECT to_regclass($1) IS NOT NULL AS ok`, [table]))[0]?.["ok"] === true

/** Every workflow of the Durably schema (none before the first worker migrated it). */
export const readWorkflows = async (sql: Sql, schema: string): Promise<WorkflowRow[]> => {
  const table = `${ident(schema)}.workflows`
  if (!(await tableExists(sql, table))) return []
  return (
    await sql.unsafe(
      `SELECT id, status, output, error, executor_id, epoch, recovery_attempts FROM ${table} ORDER BY id`,
    )
  ).map((r) => ({
    id: r["id"] as string,
    status: r["status"] as string,
    output: r["output"] === null ? undefined : (JSON.parse(r["output"] as string) as ChainOutput),
    error: (r["error"] as string | null) ?? undefined,
    executorId: (r["executor_id"] as string | null) ?? undefined,
    epoch: Number(r["epoch"]),
    recoveryAttempts: Number(r["recovery_attempts"]),
  }))
}

export interface StepRow {
  readonly workflowId: string
  readonly stepId: number
  readonly name: string
  readonly state: string
  readonly output: StepResult | undefined
  /** The writer's clock when the checkpoint was made. */
  readonly completedMs: number | undefined
}

export const readSteps = async (sql: Sql, schema: string): Promise<StepRow[]> => {
  const table = `${ident(schema)}.steps`
  if (!(await tableExists(sql, table))) return []
  return (
    await sql.unsafe(
      `SELECT workflow_id, step_id, name, state, output, completed_ms FROM ${table} ORDER BY workflow_id, step_id`,
    )
  ).map((r) => ({
    workflowId: r["workflow_id"] as string,
    stepId: Number(r["step_id"]),
    name: r["name"] as string,
    state: r["state"] as string,
    output: r["output"] === null ? undefined : (JSON.parse(r["output"] as string) as StepResult),
    completedMs: r["completed_ms"] === null ? undefined : Number(r["completed_ms"]),
  }))
}

/** A one-line summary of where the workflows are, for timeout messages. */
export const describeProgress = async (sql: Sql, schema: string, ids: ReadonlyArray<string>): Promise<string> => {
  const workflows = new Map((await readWorkflows(sql, schema)).map((w) => [w.id, w]))
  const steps = await readSteps(sql, schema)
  const missing = ids.filter((id) => workflows.get(id)?.status !== "SUCCESS")
  return `${ids.length - missing.length}/${ids.length} SUCCESS; not yet: ${missing
    .map((id) => {
      const w = workflows.get(id)
      const done = steps.filter((s) => s.workflowId === id && s.state === "done").length
      return w ? `${id} ${w.status} owner=${w.executorId ?? "-"} epoch=${w.epoch} steps=${done}` : `${id} (not created)`
    })
    .join(", ")}`
}

/**
 * Wait until every workflow in `ids` is SUCCESS; fail at once if one ends otherwise (ERROR, CANCELLED, DEAD),
 * and after `timeoutMs` with the list of what is missing.
 */
export const waitAllSucceeded = async (
  sql: Sql,
  schema: string,
  ids: ReadonlyArray<string>,
  options: { readonly timeoutMs?: number; readonly context?: () => string } = {},
): Promise<void> => {
  const detail = async () => `${await describeProgress(sql, schema, ids)}${options.context?.() ?? ""}`
  await waitFor(
    `all ${ids.length} workflows to be SUCCESS`,
    async () => {
      const rows = (await readWorkflows(sql, schema)).filter((w) => ids.includes(w.id))
      const bad = rows.filter((w) => w.status !== "SUCCESS" && w.status !== "PENDING")
      if (bad.length > 0)
        throw new Error(
          `workflows ended other than SUCCESS: ${bad.map((w) => `${w.id} ${w.status} ${w.error ?? ""}`).join("; ")}\n${await detail()}`,
        )
      return rows.length === ids.length && rows.every((w) => w.status === "SUCCESS")
    },
    { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 100, detail },
  )
}

/** True when every workflow in `ids` is SUCCESS. */
export const allSucceeded = async (sql: Sql, schema: string, ids: ReadonlyArray<string>): Promise<boolean> => {
  const table = `${ident(schema)}.workflows`
  if (!(await tableExists(sql, table))) return false
  const [row] = await sql.unsafe(
    `SELECT count(*)::int AS n FROM ${table} WHERE status = 'SUCCESS' AND id = ANY($1::text[])`,
    [[...ids]],
  )
  return row?.["n"] === ids.length
}
