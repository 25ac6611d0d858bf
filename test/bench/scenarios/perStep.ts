/**
 * Per-step cost: sequential 10-step workflows (start and completion included, one awaited after another),
 * wall time / 10, against a single-row INSERT round trip into a table with a primary key, with the same
 * payload a step records, in the same run: on the same postgres.js pool for the server store, on PGlite for
 * the embedded store.
 *
 * Fairness: synchronous_commit is checked and printed, every table involved is logged (permanent), every
 * checkpoint is its own committed statement, awaited before the workflow's next step starts.
 *
 * DBOS Transact gets a row of its own on the same server, measured the same way against the same INSERT
 * reference (sampled in its rounds), in a child process with a fresh system database: ./dbos/perStep.ts.
 */
import { guarded, type Row, type Scenario } from "../harness.ts"
import { dbosPerStepRow, dbosStore } from "./dbos/parent.ts"
import { STEPS } from "./perStep/common.ts"
import { embeddedRow } from "./perStep/embedded.ts"
import { serverRow } from "./perStep/server.ts"

const name = "per-step cost"

export const perStep: Scenario = {
  name,
  description: `sequential ${STEPS}-step workflows (start to completion) / ${STEPS}, against one INSERT round trip with the same payload on the same pool`,
  run: async (env) => {
    const rows: Row[] = []
    env.log(`${name}, postgres server store:`)
    const server = env.serverUrl
    if (!server) env.log(`  skipped: ${env.serverNote ?? "no server"}`)
    rows.push(
      server
        ? await guarded(name, "postgres (server)", env, () => serverRow(env, server))
        : { scenario: name, store: "postgres (server)", status: "skipped", note: env.serverNote ?? "" },
    )
    // DBOS Transact on the same server, in a child process, against the same INSERT reference (./dbos/perStep.ts).
    env.log(`${name}, DBOS Transact (server):`)
    const dbos: Row = server
      ? await guarded(name, dbosStore(), env, () => dbosPerStepRow(env, server))
      : { scenario: name, store: dbosStore(), status: "skipped", note: env.serverNote ?? "" }
    const durably = rows[0]
    rows.push(
      dbos.status === "ok" && durably?.status === "ok"
        ? {
            ...dbos,
            notes: [
              ...dbos.notes,
              `DBOS / Durably per step: ${(dbos.measured.perOpMs / durably.measured.perOpMs).toFixed(2)}× in time (${dbos.measured.perOpMs.toFixed(3)} vs ${durably.measured.perOpMs.toFixed(3)} ms), ` +
                `${(dbos.ratio / durably.ratio).toFixed(2)}× in INSERTs (${dbos.ratio.toFixed(2)}× vs ${durably.ratio.toFixed(2)}×, each against its own INSERT reference)`,
            ],
          }
        : dbos,
    )
    env.log(`${name}, embedded store:`)
    rows.push(await guarded(name, "embedded (PGlite)", env, () => embeddedRow(env)))
    return rows
  },
}
