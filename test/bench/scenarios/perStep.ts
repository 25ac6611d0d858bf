/**
 * Per-step cost: sequential 10-step workflows (start and completion included, one awaited after another),
 * wall time / 10, against a single-row INSERT round trip into a table with a primary key, with the same
 * payload a step records, in the same run: on the same postgres.js pool for the server store, on PGlite for
 * the embedded store.
 *
 * Fairness: synchronous_commit is checked and printed, every table involved is logged (permanent), every
 * checkpoint is its own committed statement, awaited before the workflow's next step starts.
 */
import { guarded, type Row, type Scenario } from "../harness.ts"
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
    env.log(`${name}, embedded store:`)
    rows.push(await guarded(name, "embedded (PGlite)", env, () => embeddedRow(env)))
    return rows
  },
}
