/**
 * Per-step cost on the embedded store (PGlite in a directory), against the same INSERT on a PGlite opened
 * the same way (`PGlite.create(<dir>/pgdata)`, default settings) in the same process and run. The store
 * owns its PGlite instance, so the reference gets its own; both live in one fresh temporary directory that
 * is removed at the end. Afterwards the store's directory is reopened to check that every checkpoint was
 * committed and that no table is unlogged.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PGlite, protocol } from "@electric-sql/pglite"
import { uuidv7 } from "@durably/core"
import { embeddedStore } from "@durably/postgres/embedded"
import { interleaved, type BenchEnv, type Row } from "../../harness.ts"
import { launch, payload, sizes, STEPS, tenSteps, withCpu } from "./common.ts"

const schema = "durably_bench"

const settingsOf = async (db: PGlite) => {
  const setting = async (name: string) =>
    (await db.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name])).rows[0]?.v ?? "?"
  return {
    serverVersion: await setting("server_version"),
    synchronousCommit: await setting("synchronous_commit"),
    fsync: await setting("fsync"),
  }
}

const tablesOf = async (db: PGlite, inSchema: string) =>
  (
    await db.query<{ relname: string; relpersistence: string }>(
      `SELECT c.relname, c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY c.relname`,
      [inSchema],
    )
  ).rows

const assertLogged = (tables: ReadonlyArray<{ relname: string; relpersistence: string }>) => {
  const unlogged = tables.filter((t) => t.relpersistence !== "p").map((t) => t.relname)
  if (unlogged.length > 0) throw new Error(`not every table is logged: ${unlogged.join(", ")}`)
}

export const embeddedRow = async (env: BenchEnv): Promise<Row> => {
  const size = sizes(env.quick)
  const dir = mkdtempSync(join(tmpdir(), "durably-bench-"))
  const storeDir = join(dir, "store")
  let reference: PGlite | undefined
  let durably: Awaited<ReturnType<typeof launch>> | undefined
  try {
    env.log(`  opening PGlite twice in ${dir} (store, reference)…`)
    durably = await launch(embeddedStore({ dir: storeDir, schema })) // opens and migrates
    mkdirSync(join(dir, "reference"))
    reference = await PGlite.create(join(dir, "reference", "pgdata"))
    const settings = await settingsOf(reference)
    env.log(
      `  PGlite (postgres ${settings.serverVersion}): synchronous_commit = ${settings.synchronousCommit}, fsync = ${settings.fsync}`,
    )
    if (settings.fsync !== "on")
      env.log("  note: PGlite does not fsync; commits reach the operating system, not the disk (both sides alike)")
    await reference.exec(
      `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.insert_ref (id text PRIMARY KEY, payload text NOT NULL)`,
    )
    assertLogged(await tablesOf(reference, schema))

    const engine = durably
    const db = reference
    const insertText = `INSERT INTO ${schema}.insert_ref (id, payload) VALUES ($1, $2)`
    const inserts = async (n: number) => {
      for (let i = 0; i < n; i++) await db.query(insertText, [uuidv7(), payload])
    }
    const workflows = async (n: number) => {
      for (let i = 0; i < n; i++) await engine.run(tenSteps, i)
    }
    const cpu = { subject: { ms: 0 }, reference: { ms: 0 } }
    const opsPerRound = size.workflowsPerRound * STEPS
    const result = await interleaved({
      rounds: size.rounds,
      warmup: async () => {
        await workflows(size.warmupWorkflows)
        await inserts(size.warmupWorkflows * STEPS)
      },
      subject: {
        label: `${STEPS}-step workflow, per step`,
        opsPerRound,
        run: () => withCpu(cpu.subject, () => workflows(size.workflowsPerRound)),
      },
      reference: {
        label: "INSERT (PGlite)",
        opsPerRound,
        run: () => withCpu(cpu.reference, () => inserts(opsPerRound)),
      },
    })
    // The store sends prepared statements (PGlite plans a plain query afresh each time): the same INSERT
    // prepared, against the plain one, says how far the plain reference flatters the store.
    const preparedInserts = await preparedInsert(db, insertText)
    const preparedRef = await interleaved({
      rounds: size.rounds,
      warmup: () => preparedInserts(size.warmupWorkflows * STEPS),
      subject: { label: "INSERT (PGlite, prepared)", opsPerRound, run: () => preparedInserts(opsPerRound) },
      reference: { label: "INSERT (PGlite)", opsPerRound, run: () => inserts(opsPerRound) },
    })
    const againstPrepared = result.ratio / preparedRef.ratio
    await durably.shutdown()
    durably = undefined

    // Reopen the store's directory: every checkpoint must be there, in logged tables.
    const reopened = await PGlite.create(join(storeDir, "pgdata"))
    let checkpointRows: number
    try {
      assertLogged(await tablesOf(reopened, schema))
      checkpointRows = (await reopened.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.steps`)).rows[0]!
        .n
    } finally {
      await reopened.close()
    }
    const measuredWorkflows = size.rounds * size.workflowsPerRound
    const expectedCheckpointRows = (measuredWorkflows + size.warmupWorkflows) * STEPS
    const cpuPerOp = {
      measured: cpu.subject.ms / result.measured.ops,
      reference: cpu.reference.ms / result.reference.ops,
    }
    return {
      scenario: "per-step cost",
      store: "embedded (PGlite)",
      status: "ok",
      ...result,
      details: {
        ...settings,
        payloadBytes: Buffer.byteLength(payload),
        workflows: measuredWorkflows,
        checkpointRows,
        expectedCheckpointRows,
        clientCpuMsPerOp: cpuPerOp,
        preparedInsert: { perOpMs: preparedRef.measured.perOpMs, ratioToPlain: preparedRef.ratio, againstPrepared },
      },
      notes: [
        `per workflow: ${(result.measured.totalMs / measuredWorkflows).toFixed(2)} ms; ${STEPS} INSERTs take ${(result.reference.perOpMs * STEPS).toFixed(2)} ms`,
        `CPU per op (PGlite runs in this process): ${cpuPerOp.measured.toFixed(3)} ms per step, ${cpuPerOp.reference.toFixed(3)} ms per INSERT`,
        `against the same INSERT prepared (${preparedRef.measured.perOpMs.toFixed(3)} ms, ${preparedRef.ratio.toFixed(2)}× the plain one, rounds ${preparedRef.roundRatios.min.toFixed(2)}–${preparedRef.roundRatios.median.toFixed(2)}–${preparedRef.roundRatios.max.toFixed(2)}): a step costs ${againstPrepared.toFixed(2)}×`,
        `checkpoint rows after reopening: ${checkpointRows} (expected ${expectedCheckpointRows})${checkpointRows === expectedCheckpointRows ? "" : " MISMATCH"}`,
      ],
    }
  } finally {
    await durably?.shutdown().catch((e: unknown) => env.log(`  shutdown failed: ${String(e)}`))
    await reference?.close().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The reference INSERT as a named prepared statement, through PGlite's wire protocol: parsed once, then bound. */
const preparedInsert = async (db: PGlite, text: string) => {
  const { serialize } = protocol
  const concat = (parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    parts.reduce((at, p) => (out.set(p, at), at + p.length), 0)
    return out
  }
  await db.execProtocol(concat([serialize.parse({ name: "bench_ref", text }), serialize.sync()]))
  const run = concat([serialize.describe({ type: "P" }), serialize.execute({}), serialize.sync()])
  return async (n: number) => {
    for (let i = 0; i < n; i++)
      await db.execProtocol(concat([serialize.bind({ statement: "bench_ref", values: [uuidv7(), payload] }), run]))
  }
}
