/**
 * start → result latency of a one-step DBOS Transact workflow (runs in the child process, ./child.ts), p50 and
 * p99, against the reference of ../latency/server.ts sampled in the same rounds: one INSERT round trip of the
 * same payload on a postgres.js pool like that row's (2 connections, prepared statements), in a fresh schema
 * of the bench's database on the same server. DBOS keeps its defaults. Two series:
 *
 * - `DBOS.startWorkflow(oneStep)(i)` then the handle's `getResult()`, in the process that runs the workflow:
 *   the handle awaits the workflow's in-process promise (no polling), as Durably's engine A does;
 * - the same start, awaited by a `DBOSClient` (another client with its own pool, as Durably's engine B):
 *   `retrieveWorkflow(id).getResult()` polls the system database, by default once a second (this wait does
 *   not use LISTEN/NOTIFY), so fewer samples are taken: each costs about a second.
 */
import { DBOS, DBOSClient } from "@dbos-inc/dbos-sdk"
import postgres from "postgres"
import { uuidv7 } from "@durably/core"
import type { Row } from "../../harness.ts"
import { payload } from "../perStep/common.ts"
import { goalNote, percentile, percentileRows, sampleRounds, sizes, spread, type Sizes } from "../latency/common.ts"
import type { LatencyRequest } from "./common.ts"
import { assertDbosTablesLogged, launchDbos, settingsOf, within, type Sql } from "./runtime.ts"

const oneStep = DBOS.registerWorkflow(async (n: number) => DBOS.runStep(async () => n, { name: "only" }), {
  name: "bench-one-step",
})

/** The series awaited by another client: about a second a sample, so far fewer of them. */
const clientSizes = (quick: boolean): Sizes =>
  quick ? { rounds: 1, perRound: 2, warmup: 1 } : { rounds: 3, perRound: 10, warmup: 2 }

export const measureLatency = async (request: LatencyRequest): Promise<Row[]> => {
  const schema = request.referenceSchema
  const sql: Sql = postgres(request.benchUrl, { max: 2, prepare: true, onnotice: () => undefined, connect_timeout: 10 })
  const system: Sql = postgres(request.systemDatabaseUrl, { max: 1, onnotice: () => undefined, connect_timeout: 10 })
  let launched = false
  let client: DBOSClient | undefined
  try {
    const settings = await settingsOf(sql)
    process.stdout.write(`  postgres: synchronous_commit = ${settings.synchronousCommit}, fsync = ${settings.fsync}\n`)
    await launchDbos(request.systemDatabaseUrl)
    launched = true
    await assertDbosTablesLogged(system)
    await sql.unsafe(`CREATE SCHEMA "${schema}"`)
    await sql.unsafe(`CREATE TABLE "${schema}".latency_ref (id text PRIMARY KEY, payload text NOT NULL)`)
    const insertText = `INSERT INTO "${schema}".latency_ref (id, payload) VALUES ($1, $2)`
    const insert = async () => {
      const start = performance.now()
      await sql.unsafe(insertText, [uuidv7(), payload], { prepare: true })
      return performance.now() - start
    }
    const defaults = {
      dbos: "defaults (system database pool 10, LISTEN/NOTIFY on, result polling 1 s)",
      synchronousCommit: settings.synchronousCommit,
    }
    const rows: Row[] = []

    // The process that runs the workflow awaits its handle.
    const sameProcess = await sampleRounds({
      sizes: sizes(request.quick),
      subject: async (i) => {
        const t0 = performance.now()
        const handle = await DBOS.startWorkflow(oneStep)(i)
        const result = await within(30_000, `getResult() of ${handle.workflowID}`, handle.getResult())
        if (result !== i) throw new Error(`workflow ${handle.workflowID} returned ${String(result)}, not ${i}`)
        return performance.now() - t0
      },
      reference: insert,
    })
    const local = sameProcess.subject.flat()
    rows.push(
      ...percentileRows({
        scenario: "result() latency",
        store: request.store,
        subjectLabel: "1-step: DBOS.startWorkflow → handle.getResult() (same process)",
        referenceLabel: "INSERT round trip",
        sampled: sameProcess,
        details: {
          ...defaults,
          awaitedFrom: "the handle startWorkflow returned, in the process running it",
          samples: local.length,
        },
        notes: [
          `DBOS start → getResult() in the process running the workflow: ${spread(local)}; INSERT p50 ${percentile(sameProcess.reference.flat(), 0.5).toFixed(2)} ms`,
          goalNote("result()", local),
        ],
      }),
    )

    // Another client awaits it: DBOSClient's handle polls the system database.
    client = await DBOSClient.create({ systemDatabaseUrl: request.systemDatabaseUrl })
    const awaiter = client
    const polled = await sampleRounds({
      sizes: clientSizes(request.quick),
      subject: async (i) => {
        const t0 = performance.now()
        const handle = await DBOS.startWorkflow(oneStep)(i)
        await within(
          30_000,
          `DBOSClient getResult() of ${handle.workflowID}`,
          awaiter.retrieveWorkflow<number>(handle.workflowID).getResult(),
        )
        const remote = performance.now() - t0
        await handle.getResult()
        return remote
      },
      reference: insert,
    })
    const remote = polled.subject.flat()
    rows.push(
      ...percentileRows({
        scenario: "result() latency, DBOSClient",
        store: request.store,
        subjectLabel: "1-step: DBOS.startWorkflow → DBOSClient getResult()",
        referenceLabel: "INSERT round trip",
        sampled: polled,
        details: {
          ...defaults,
          awaitedFrom: "a DBOSClient in the same process (its own pool), default polling",
          samples: remote.length,
        },
        notes: [
          `DBOS start → DBOSClient getResult() (polls every 1 s by default): ${spread(remote)}`,
          goalNote("result() from another client", remote),
        ],
      }),
    )
    return rows
  } finally {
    await client?.destroy().catch(() => undefined)
    if (launched) await DBOS.shutdown().catch(() => undefined)
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await sql.end({ timeout: 5 })
    await system.end({ timeout: 5 })
  }
}
