/**
 * Per-step cost of DBOS Transact (runs in the child process, ./child.ts): sequential 10-step workflows, each
 * step returning the same small value as Durably's (../perStep/common.ts), each workflow called and awaited
 * before the next (start and completion included), wall time / 10; against the reference of
 * ../perStep/server.ts measured in the same rounds: one single-row INSERT round trip of the same payload into
 * a table with a primary key, on a postgres.js pool like the one Durably's row uses (10 connections,
 * prepared statements), in a fresh schema of the bench's database on the same server. DBOS keeps its
 * defaults (its own pool of 10 on its system database, LISTEN/NOTIFY on); every statement it sends is timed
 * by kind. Afterwards every checkpoint is counted and every DBOS table checked to be logged.
 */
import { DBOS } from "@dbos-inc/dbos-sdk"
import postgres from "postgres"
import { jsonSerializer, uuidv7 } from "@durably/core"
import { interleaved, type Row } from "../../harness.ts"
import { payload, sizes, STEPS, withCpu } from "../perStep/common.ts"
import { SYSTEM_SCHEMA, type PerStepRequest } from "./common.ts"
import {
  assertDbosTablesLogged,
  describeStatements,
  instrumentPg,
  launchDbos,
  merge,
  perWorkflow,
  settingsOf,
  type Sql,
  type StatementStats,
} from "./runtime.ts"

/** What every step returns: the very value Durably's steps return (the reference INSERT stores its text). */
const stepResult: unknown = jsonSerializer.decode(payload)

const tenSteps = DBOS.registerWorkflow(
  async (n: number) => {
    for (let i = 0; i < STEPS; i++) await DBOS.runStep(async () => stepResult, { name: `step-${i}` })
    return n
  },
  { name: "bench-ten-steps" },
)

export const measurePerStep = async (request: PerStepRequest): Promise<Row> => {
  const size = sizes(request.quick)
  const schema = request.referenceSchema
  const stats = instrumentPg()
  // The reference's pool: as ../perStep/server.ts's (10 connections, prepared statements).
  const sql: Sql = postgres(request.benchUrl, {
    max: 10,
    prepare: true,
    onnotice: () => undefined,
    connect_timeout: 10,
  })
  // Our own connection to DBOS's database, for the checks after the run (never while timed).
  const system: Sql = postgres(request.systemDatabaseUrl, { max: 1, onnotice: () => undefined, connect_timeout: 10 })
  let launched = false
  try {
    const settings = await settingsOf(sql)
    process.stdout.write(
      `  postgres ${settings.serverVersion}: synchronous_commit = ${settings.synchronousCommit}, fsync = ${settings.fsync}\n`,
    )
    await launchDbos(request.systemDatabaseUrl) // migrates the fresh system database
    launched = true
    const tables = await assertDbosTablesLogged(system)
    await sql.unsafe(`CREATE SCHEMA "${schema}"`)
    await sql.unsafe(`CREATE TABLE "${schema}".insert_ref (id text PRIMARY KEY, payload text NOT NULL)`)

    const insertText = `INSERT INTO "${schema}".insert_ref (id, payload) VALUES ($1, $2)`
    const inserts = async (n: number) => {
      for (let i = 0; i < n; i++) await sql.unsafe(insertText, [uuidv7(), payload], { prepare: true })
    }
    const workflows = async (n: number) => {
      for (let i = 0; i < n; i++) if ((await tenSteps(i)) !== i) throw new Error(`workflow ${i} returned wrong`)
    }
    const measuredStats: StatementStats = new Map()
    const cpu = { subject: { ms: 0 }, reference: { ms: 0 } }
    const opsPerRound = size.workflowsPerRound * STEPS
    const result = await interleaved({
      rounds: size.rounds,
      warmup: async () => {
        await workflows(size.warmupWorkflows)
        await inserts(size.warmupWorkflows * STEPS)
      },
      subject: {
        label: `DBOS ${STEPS}-step workflow, per step`,
        opsPerRound,
        run: async () => {
          stats.clear()
          await withCpu(cpu.subject, () => workflows(size.workflowsPerRound))
          merge(measuredStats, stats)
        },
      },
      reference: {
        label: "INSERT round trip",
        opsPerRound,
        run: () => withCpu(cpu.reference, () => inserts(opsPerRound)),
      },
    })
    await DBOS.shutdown()
    launched = false

    const measuredWorkflows = size.rounds * size.workflowsPerRound
    const statements = perWorkflow(measuredStats, measuredWorkflows)
    const statementMs = Object.values(statements).reduce((sum, s) => sum + s.ms, 0)
    const statementCount = Object.values(statements).reduce((sum, s) => sum + s.count, 0)
    const commits = statements["COMMIT"]?.count ?? 0
    const [checkpoints] = await system.unsafe<{ n: number; bytes: number }[]>(
      `SELECT count(*)::int AS n, coalesce(max(length(output)), 0)::int AS bytes FROM "${SYSTEM_SCHEMA}".operation_outputs`,
    )
    const [workflowRows] = await system.unsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM "${SYSTEM_SCHEMA}".workflow_status WHERE status = 'SUCCESS'`,
    )
    const allWorkflows = measuredWorkflows + size.warmupWorkflows
    const expectedCheckpointRows = allWorkflows * STEPS
    const checkpointRows = checkpoints?.n ?? 0
    const perWf = result.measured.totalMs / measuredWorkflows
    const cpuPerOp = {
      measured: cpu.subject.ms / result.measured.ops,
      reference: cpu.reference.ms / result.reference.ops,
    }
    return {
      scenario: "per-step cost",
      store: request.store,
      status: "ok",
      ...result,
      details: {
        ...settings,
        dbos: {
          settings:
            "DBOS defaults (system database pool 10, LISTEN/NOTIFY on); applicationVersion fixed, logLevel warn",
          api: "DBOS.registerWorkflow + DBOS.runStep; each workflow called and awaited in turn",
          process: "a child process of its own; the reference INSERT runs in the same process",
          tables,
        },
        pool: { max: 10, prepare: true },
        payloadBytes: Buffer.byteLength(payload),
        dbosStepOutputBytes: checkpoints?.bytes ?? 0,
        workflows: measuredWorkflows,
        successfulWorkflows: workflowRows?.n ?? 0,
        checkpointRows,
        expectedCheckpointRows,
        statementsPerWorkflow: statements,
        perWorkflowMs: { total: perWf, inStatements: statementMs, outsideStatements: perWf - statementMs },
        clientCpuMsPerOp: cpuPerOp,
      },
      notes: [
        `statements per workflow (count × mean ms): ${describeStatements(statements)}`,
        `${statementCount.toFixed(0)} statements and ${commits.toFixed(0)} commits per ${STEPS}-step workflow; ` +
          `per workflow: ${perWf.toFixed(2)} ms = ${statementMs.toFixed(2)} ms waiting on statements + ${(perWf - statementMs).toFixed(2)} ms outside them; ` +
          `${STEPS} INSERTs take ${(result.reference.perOpMs * STEPS).toFixed(2)} ms`,
        `client CPU per op: ${cpuPerOp.measured.toFixed(3)} ms per step, ${cpuPerOp.reference.toFixed(3)} ms per INSERT`,
        `checkpoint rows: ${checkpointRows} (expected ${expectedCheckpointRows})${checkpointRows === expectedCheckpointRows ? "" : " MISMATCH"}; ` +
          `SUCCESS workflows ${workflowRows?.n ?? 0} of ${allWorkflows}; a step's stored output ${checkpoints?.bytes ?? 0} bytes, the INSERT's payload ${Buffer.byteLength(payload)}`,
      ],
    }
  } finally {
    if (launched) await DBOS.shutdown().catch(() => undefined)
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await sql.end({ timeout: 5 })
    await system.end({ timeout: 5 })
  }
}
