/**
 * The soak's ledger, in its own schema on the soak's Postgres: `runs` has one row per step body run, written
 * by the body when it starts and stamped when it ends (Date.now() in the worker; every process is on this
 * machine, one clock); `tx` has the rows `transaction` steps insert, committed with their checkpoint.
 */
import postgres from "postgres"

export type Sql = postgres.Sql<Record<string, postgres.PostgresType>>

export const LEDGER_SCHEMA = "chaos"

export interface Ledger {
  /** Record that a body started; resolves with its row id. */
  readonly begin: (workflowId: string, step: string, attempt: number) => Promise<number>
  /** Stamp its end: "ok", or "threw" for a planned failure. */
  readonly end: (row: number, outcome: "ok" | "threw") => Promise<void>
  readonly txTable: string
}

export const createLedger = async (sql: Sql): Promise<void> => {
  await sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${LEDGER_SCHEMA}`)
  await sql.unsafe(`CREATE TABLE ${LEDGER_SCHEMA}.runs (
    id          bigserial PRIMARY KEY,
    workflow_id text NOT NULL,
    step        text NOT NULL,
    attempt     integer NOT NULL,
    executor    text NOT NULL,
    pid         integer NOT NULL,
    started_ms  bigint NOT NULL,
    finished_ms bigint,
    outcome     text)`)
  await sql.unsafe(`CREATE TABLE ${LEDGER_SCHEMA}.tx (
    id          bigserial PRIMARY KEY,
    workflow_id text NOT NULL,
    step        text NOT NULL,
    pid         integer NOT NULL)`)
}

/** The ledger a worker's bodies write with, on its own connections. */
export const workerLedger = (sql: Sql, executor: string): Ledger => ({
  begin: async (workflowId, step, attempt) => {
    const [row] = await sql.unsafe(
      `INSERT INTO ${LEDGER_SCHEMA}.runs (workflow_id, step, attempt, executor, pid, started_ms)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
      [workflowId, step, attempt, executor, process.pid, Date.now()],
    )
    return Number(row!["id"])
  },
  end: async (row, outcome) => {
    await sql.unsafe(`UPDATE ${LEDGER_SCHEMA}.runs SET finished_ms = $2, outcome = $3 WHERE id = $1`, [
      row,
      Date.now(),
      outcome,
    ])
  },
  txTable: `${LEDGER_SCHEMA}.tx`,
})

/** For the driver, whose workflow definitions never run. */
export const unusedLedger: Ledger = {
  begin: () => Promise.reject(new Error("the driver runs no step bodies")),
  end: () => Promise.reject(new Error("the driver runs no step bodies")),
  txTable: `${LEDGER_SCHEMA}.tx`,
}

export interface Run {
  readonly id: number
  readonly workflowId: string
  readonly step: string
  readonly attempt: number
  readonly executor: string
  readonly pid: number
  readonly startedMs: number
  readonly finishedMs: number | undefined
  readonly outcome: string | undefined
}

export const readRuns = async (sql: Sql): Promise<Run[]> =>
  (await sql.unsafe(`SELECT * FROM ${LEDGER_SCHEMA}.runs ORDER BY id`)).map((r) => ({
    id: Number(r["id"]),
    workflowId: r["workflow_id"] as string,
    step: r["step"] as string,
    attempt: Number(r["attempt"]),
    executor: r["executor"] as string,
    pid: Number(r["pid"]),
    startedMs: Number(r["started_ms"]),
    finishedMs: r["finished_ms"] === null ? undefined : Number(r["finished_ms"]),
    outcome: (r["outcome"] as string | null) ?? undefined,
  }))

export const readTxRows = async (sql: Sql): Promise<Array<{ workflowId: string; step: string }>> =>
  (await sql.unsafe(`SELECT workflow_id, step FROM ${LEDGER_SCHEMA}.tx ORDER BY id`)).map((r) => ({
    workflowId: r["workflow_id"] as string,
    step: r["step"] as string,
  }))
